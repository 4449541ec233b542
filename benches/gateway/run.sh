#!/usr/bin/env bash
# The gateway side by side with its peers, in one run (loopback only, bounded in time):
#   nginx     static {"predictions":[1]}: the loopback + wrk ceiling
#   modeldeck `modeldeck serve`, the peers' iris LogisticRegression as PMML (assets/iris-lr),
#             answered with its class and three probabilities, key checked, Host routed
#   kserve    KServe 0.21 with the same model (../shared/bench/peers/kserve_peer/sklearn_v1.py)
# Body: one row, V1 `{"instances":[[6.8,2.8,4.8,1.4]]}`. For each round, each connection count
# (1, 16, 64) runs every target in turn, so noise hits all of them alike; the report gives
# medians over rounds and modeldeck's ratios to the peers measured in the same round.
#
#   bash benches/gateway/run.sh            # ROUNDS=3 DURATION=10 CONNS="1 16 64" TARGETS=...
#
# Needs root for apt-get (nginx, wrk) on first use; Python venvs go under $WORK.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-$REPO/../shared/bench/peers}"
WORK="${WORK:-/tmp/modeldeck-gateway-bench}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-1 16 64}"
TARGETS="${TARGETS:-nginx modeldeck kserve}"
NGINX_PORT=18185 KSERVE_PORT=18180 MD_GATEWAY=18186 MD_CONTROL=18187
mkdir -p "$WORK/logs" "$WORK/nginx"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT INT TERM
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# ---- install (idempotent)
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null
fi
if [[ " $TARGETS " == *" kserve "* ]] && [ ! -e "$WORK/venv-kserve/.ok" ]; then
  log "pip: kserve venv"
  python3 -m venv "$WORK/venv-kserve" &&
    "$WORK/venv-kserve/bin/pip" install -q kserve==0.21.0 kserve-storage==0.21.0 \
      scikit-learn==1.9.1 joblib==1.6.0 && touch "$WORK/venv-kserve/.ok" || exit 1
  "$WORK/venv-kserve/bin/python" "$PEERS/train_iris.py" "$WORK/model" >/dev/null || exit 1
fi
[ "${INSTALL_ONLY:-0}" = 1 ] && exit 0
(cd "$REPO" && cargo build --release -q) || exit 1
MD="$REPO/target/release/modeldeck"

# ---- start every target once
body="$WORK/1row.json"
printf '{"instances":[[6.8,2.8,4.8,1.4]]}' >"$body"
wait_up() {  # url [header]
  for _ in $(seq 1 120); do curl -s -o /dev/null --max-time 2 "$@" && return 0; sleep 0.5; done
  log "no answer from $1"; return 1
}
declare -A URL HDRS
for t in $TARGETS; do
  case "$t" in
    nginx)
      cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  server { listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '{"predictions":[1]}'; } } }
CONF
      nginx -c "$WORK/nginx/nginx.conf" >"$WORK/logs/nginx.log" 2>&1 & PIDS+=($!)
      URL[nginx]="http://127.0.0.1:$NGINX_PORT/v1/models/iris:predict"; HDRS[nginx]=""
      wait_up "http://127.0.0.1:$NGINX_PORT/" || exit 1 ;;
    modeldeck)
      rm -rf "$WORK/md-data"
      "$MD" --data-dir "$WORK/md-data" models import "$REPO/assets/iris-lr/iris-lr.pmml" --name iris >/dev/null || exit 1
      key=$("$MD" --data-dir "$WORK/md-data" services deploy iris --model iris --concurrency 1024 --json |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || exit 1
      "$MD" --data-dir "$WORK/md-data" serve --gateway "127.0.0.1:$MD_GATEWAY" \
        --control "127.0.0.1:$MD_CONTROL" --log-file "$WORK/logs/modeldeck.log" & PIDS+=($!)
      URL[modeldeck]="http://127.0.0.1:$MD_GATEWAY/v1/models/iris:predict"
      HDRS[modeldeck]="Host:iris.modeldeck.local Authorization:$key"
      wait_up "http://127.0.0.1:$MD_GATEWAY/v2/health/ready" || exit 1 ;;
    kserve)
      "$WORK/venv-kserve/bin/python" "$PEERS/kserve_peer/sklearn_v1.py" --model_name iris \
        --model_dir "$WORK/model" --http_port "$KSERVE_PORT" --grpc_port 18181 \
        >"$WORK/logs/kserve.log" 2>&1 & PIDS+=($!)
      URL[kserve]="http://127.0.0.1:$KSERVE_PORT/v1/models/iris:predict"; HDRS[kserve]=""
      wait_up "http://127.0.0.1:$KSERVE_PORT/v1/models/iris" || exit 1 ;;
  esac
done

# ---- the matrix
results="$WORK/results.txt"; : >"$results"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    threads=2; [ "$c" = 1 ] && threads=1
    for t in $TARGETS; do
      # shellcheck disable=SC2086
      line=$(timeout $((DURATION + 30)) wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency --timeout 5s \
        -s "$PEERS/wrk_predict.lua" "${URL[$t]}" -- "$body" ${HDRS[$t]} | grep '^RESULT')
      echo "round=$r conns=$c target=$t $line" | tee -a "$results" >&2
    done
  done
done

# ---- report: medians over rounds, and per-round ratios modeldeck / peer
python3 - "$results" "$TARGETS" "$CONNS" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+)=([\w.:-]+)", l)) for l in open(sys.argv[1])]
targets, conns = sys.argv[2].split(), sys.argv[3].split()
cell = lambda c, t, k: [float(r[k]) for r in rows if r["conns"] == c and r["target"] == t]
print("| conns | " + " | ".join(f"{t} req/s (p50 ms)" for t in targets) + " | modeldeck ÷ nginx | modeldeck ÷ kserve |")
print("|---|" + "---|" * (len(targets) + 2))
for c in conns:
    out = []
    for t in targets:
        rps, p50 = cell(c, t, "rps"), cell(c, t, "p50_ms")
        out.append(f"{statistics.median(rps):,.0f} ({statistics.median(p50):.3f})" if rps else "-")
    def ratio(peer):
        a, b = cell(c, "modeldeck", "rps"), cell(c, peer, "rps")
        if not a or not b: return "-"
        per = [x / y for x, y in zip(a, b)]
        return f"{statistics.median(per):.2f} ({'/'.join(f'{p:.2f}' for p in per)})"
    bad = sum(int(r["non2xx"]) + int(r["sock_errors"]) for r in rows if r["conns"] == c)
    print(f"| {c} | " + " | ".join(out) + f" | {ratio('nginx')} | {ratio('kserve')} |" + (f" non-2xx/errors: {bad}" if bad else ""))
PY
