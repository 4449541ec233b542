#!/usr/bin/env bash
# The console at rest with 1,000 models and 1,000 services: CPU it burns (its own utime+stime
# from /proc, not wall time) and bytes it writes to its terminal (a real pty: tmux pipe-pane
# records everything the console writes), over IDLE seconds with nothing changing.
#
#   bash benches/console/idle.sh        # N=1000 IDLE=20
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-1000}" IDLE="${IDLE:-20}" WORK="${WORK:-/tmp/modeldeck-console-bench}"
MD="$REPO/target/release/modeldeck"
(cd "$REPO" && cargo build --release -q)
rm -rf "$WORK" && mkdir -p "$WORK/home"
D="$WORK/data"
mkdir -p "$D" && printf 'gateway = "127.0.0.1:0"\ncontrol = "127.0.0.1:0"\n' >"$D/config.toml"
"$MD" --data-dir "$D" serve --log-file "$WORK/serve.log" & SERVER=$!
T="tmux -L mdbench"
trap '$T kill-server 2>/dev/null; kill $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$D/server.json" ] && break; sleep 0.1; done
C=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["control"])' "$D/server.json")
TOKEN=$(cat "$D/control.token")
echo "loading $N models and $N services…" >&2
for i in $(seq -w 1 "$N"); do
  curl -sf -o /dev/null -X POST "$C/api/v1/models/m$i/versions?filename=iris.pmml&wait=true" \
    -H "Authorization: Bearer $TOKEN" -H 'content-type: application/octet-stream' \
    --data-binary @"$REPO/assets/iris/iris.pmml"
  curl -sf -o /dev/null -X POST "$C/api/v1/services" -H "Authorization: Bearer $TOKEN" \
    -d "{\"name\":\"s$i\",\"model\":\"m$i\"}"
done
$T kill-server 2>/dev/null || true
$T new-session -d -s b -x 120 -y 40 "env HOME=$WORK/home LANG=C.UTF-8 $MD --data-dir $D"
$T pipe-pane -o -t b "cat >> $WORK/pty.out"
$T send-keys -t b 2
sleep 5   # attach, load, settle
PID=$(pgrep -f "^$MD --data-dir $D$" | head -1)
ticks() { awk '{print $14+$15}' "/proc/$PID/stat"; }
b0=$(stat -c %s "$WORK/pty.out"); c0=$(ticks)
sleep "$IDLE"
b1=$(stat -c %s "$WORK/pty.out"); c1=$(ticks)
HZ=$(getconf CLK_TCK)
python3 - "$b0" "$b1" "$c0" "$c1" "$HZ" "$IDLE" <<'PY'
import sys
b0, b1, c0, c1, hz, idle = map(float, sys.argv[1:])
print(f"idle {idle:.0f} s: {(b1-b0)/idle:.0f} bytes/s to the terminal, CPU {100*(c1-c0)/hz/idle:.2f}% of a core")
PY
