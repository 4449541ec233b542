#!/usr/bin/env bash
# Two builds of modeldeck side by side on the gateway's hot path, in alternating rounds:
# the same one-row iris-lr prediction, Host-routed and keyed, wrk pinned to CPU 1. Prints each
# round's throughput, median latency and the server's own CPU time per request (utime+stime
# from /proc, which other load on the machine moves far less than wall time).
#
#   bash benches/gateway/ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]
#
# Build the old one from a worktree (`git worktree add /tmp/old REV`, then `cargo build
# --release` there) and copy both binaries out of target/ before running.
set -euo pipefail
OLD="$1" NEW="$2" ROUNDS="${3:-5}" SECS="${4:-8}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LUA="$REPO/../shared/bench/peers/wrk_predict.lua"
WORK="$(mktemp -d)"
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$WORK"' EXIT
echo '{"instances":[[6.8,2.8,4.8,1.4]]}' > "$WORK/body.json"
start() { # name binary gateway-port control-port
  local dir="$WORK/$1"
  "$2" --data-dir "$dir" models import "$REPO/assets/iris-lr/iris-lr.pmml" --name iris >/dev/null
  "$2" --data-dir "$dir" services deploy iris --model iris --json |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["key"])' > "$WORK/$1.key"
  "$2" --data-dir "$dir" serve --gateway "127.0.0.1:$3" --control "127.0.0.1:$4" \
    --log-file "$WORK/$1.log" & echo $! > "$WORK/$1.pid"
  echo "$3" > "$WORK/$1.port"
}
start old "$OLD" 18301 18302
start new "$NEW" 18311 18312
sleep 1
for round in $(seq "$ROUNDS"); do
  for t in old new; do
    pid=$(cat "$WORK/$t.pid"); c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    r=$(taskset -c 1 wrk -t1 -c16 -d"${SECS}s" --latency -s "$LUA" \
      "http://127.0.0.1:$(cat "$WORK/$t.port")/v1/models/iris:predict" -- "$WORK/body.json" \
      "Host:iris.modeldeck.local" "Authorization:$(cat "$WORK/$t.key")" | grep '^RESULT')
    c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    n=$(echo "$r" | sed 's/.*requests=\([0-9]*\).*/\1/')
    tck=$(getconf CLK_TCK)
    echo "round $round $t $(echo "$r" | cut -d' ' -f2,3,5) cpu_us_per_req=$(python3 -c "print(round(($c1-$c0)*1e6/$tck/$n,2))")"
  done
done
