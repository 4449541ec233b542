#!/usr/bin/env bash
# Upstream proxy overhead: what a call through modeldeck costs over calling the upstream
# directly. KServe's model server (tests/peers) serves the iris model; a release modeldeck
# fronts it as a kserve-v1 upstream. wrk at one connection, one row, alternating direct and
# through modeldeck ROUNDS times in the same run; reports each round's p50s and the median of
# the differences (the figure BENCHMARKS.md records).
#
#   bash benches/upstream/overhead.sh        (after `cargo build --release`; needs wrk and the
#                                             KServe venv of tests/peers/README.md)
# Env: ROUNDS [5], DURATION [10] s per run, BIN [target/release/modeldeck],
#      MODELDECK_PEER_KSERVE_PYTHON [target/peer-kserve/bin/python]
# Everything is on loopback; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-10}"
BIN="${BIN:-target/release/modeldeck}"
PY="${MODELDECK_PEER_KSERVE_PYTHON:-target/peer-kserve/bin/python}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(port)
"$PY" tests/peers/train_iris.py "$work/model" >/dev/null
# Per-request logging off, as a production KServe runs (it costs the peer ~20%).
KSERVE_LOGLEVEL=WARNING setsid "$PY" tests/peers/kserve_sklearn.py --model_name iris \
  --model_dir "$work/model" --http_port "$kport" --grpc_port "$(port)" \
  --enable_latency_logging False >"$work/kserve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$kport/v1/models/iris" && break; sleep 0.2; done

data="$work/data"
printf 'protocol = "kserve-v1"\nurl = "http://127.0.0.1:%s"\nmodel = "iris"\n' "$kport" >"$work/iris.upstream.toml"
"$BIN" --data-dir "$data" models import "$work/iris.upstream.toml" --name iris >/dev/null
key=$("$BIN" --data-dir "$data" services deploy iris --model iris --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
setsid "$BIN" --data-dir "$data" serve --gateway 127.0.0.1:0 --control 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -f "$data/server.json" ] && break; sleep 0.1; done
gw=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"])' "$data/server.json")
body="$work/model/bodies/v1_1row.json"
for _ in $(seq 1 100); do
  curl -sf -H "Authorization: $key" --data-binary @"$body" "$gw/v1/models/iris:predict" >/dev/null && break
  sleep 0.1
done

run() {  # url [headers...] -> p50 ms
  local url="$1"; shift
  wrk -t1 -c1 -d"${DURATION}s" --latency -s benches/upstream/wrk_predict.lua "$url" -- "$body" "$@" \
    | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p'
}
echo "== wrk, one connection, alternating runs of ${DURATION} s"
echo "round direct_p50_ms proxied_p50_ms overhead_ms"
diffs=()
for r in $(seq 1 "$ROUNDS"); do
  d=$(run "http://127.0.0.1:$kport/v1/models/iris:predict")
  p=$(run "$gw/v1/models/iris:predict" "Authorization:$key")
  o=$("$PY" -c "print(f'{$p - $d:.3f}')")
  diffs+=("$o")
  echo "$r $d $p $o"
done
"$PY" -c 'import statistics,sys; print("median overhead ms:", f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "${diffs[@]}"
echo "== request by request, one connection each, calls paired (benches/upstream/main.rs)"
for r in $(seq 1 "$ROUNDS"); do
  cargo bench -q --bench upstream -- "http://127.0.0.1:$kport/v1/models/iris:predict" \
    "$gw/v1/models/iris:predict" "$key" "$body" "${PAIRS:-5000}"
done
