#!/usr/bin/env bash
# The console at rest with 1,000 models and 1,000 services: CPU it burns (its own utime+stime
# from /proc, not wall time) and bytes it writes to its terminal (a real pty: tmux pipe-pane
# records everything the console writes), over IDLE seconds with nothing changing.
#
#   bash benches/console/idle.sh                 # N=1000 IDLE=20, the Services pane
#   PANE=4 LOAD=40 bash benches/console/idle.sh  # the Monitor pane open while the first
#                                                # 8 services take LOAD requests a second
#
# With LOAD, the figures on screen change every second (one refresh a second); the load comes
# from a separate process, so the console's CPU and bytes are its own.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${N:-1000}" IDLE="${IDLE:-20}" PANE="${PANE:-2}" LOAD="${LOAD:-0}" WORK="${WORK:-/tmp/modeldeck-console-bench}"
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
if [ "$LOAD" -gt 0 ]; then
  python3 - "$C" "$TOKEN" "$LOAD" "$((IDLE + 10))" <<'PY' & LOADER=$!
import http.client, json, sys, time, urllib.parse
control, token, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlparse(control)
c = http.client.HTTPConnection(u.hostname, u.port)
targets = []
for i in range(1, 9):
    c.request("GET", f"/api/v1/services/s{i:04d}?show_key=true", headers={"Authorization": f"Bearer {token}"})
    s = json.loads(c.getresponse().read())
    targets.append((s["host"], s["key"], s["gateway"]))
g = urllib.parse.urlparse(targets[0][2])
gw = http.client.HTTPConnection(g.hostname, g.port)
body = json.dumps({"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]})
end, n = time.time() + seconds, 0
while time.time() < end:
    host, key, _ = targets[n % len(targets)]
    gw.request("POST", "/v1/models/m:predict", body=body, headers={"Host": host, "Authorization": key})
    gw.getresponse().read()
    n += 1
    time.sleep(max(0.0, n / rate - (time.time() - (end - seconds))))
PY
  trap '$T kill-server 2>/dev/null; kill $SERVER $LOADER 2>/dev/null; wait 2>/dev/null' EXIT
fi
$T send-keys -t b "$PANE"
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
print(f"{idle:.0f} s: {(b1-b0)/idle:.0f} bytes/s to the terminal, CPU {100*(c1-c0)/hz/idle:.2f}% of a core")
PY
