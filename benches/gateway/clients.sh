#!/usr/bin/env bash
# On demand: KServe's and MLServer's own client libraries against a real `modeldeck serve`
# (CI runs the TF Serving REST and tritonclient ones on every change: tests/it/clients.rs;
# these two pull in heavy dependencies, so they live here). Loopback only.
#
#   bash benches/gateway/clients.sh        # WORK=/tmp/modeldeck-gateway-bench
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CLIENTS="${CLIENTS:-$REPO/../shared/bench/peers/clients}"
WORK="${WORK:-/tmp/modeldeck-gateway-bench}"
mkdir -p "$WORK"
venv() {  # dir packages...
  local dir="$1"; shift
  [ -e "$dir/.ok" ] && return 0
  python3 -m venv "$dir" && "$dir/bin/pip" install -q "$@" && touch "$dir/.ok"
}
venv "$WORK/venv-kserve" kserve==0.21.0 kserve-storage==0.21.0 scikit-learn==1.9.1 joblib==1.6.0 || exit 1
venv "$WORK/venv-mlserver" mlserver==1.7.1 "uvloop<0.22" || exit 1
(cd "$REPO" && cargo build --release -q) || exit 1
MD="$REPO/target/release/modeldeck" D="$WORK/clients-data"
rm -rf "$D"
"$MD" --data-dir "$D" models import "$REPO/assets/iris-lr/iris-lr.pmml" --name iris >/dev/null || exit 1
key=$("$MD" --data-dir "$D" services deploy iris --model iris --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || exit 1
"$MD" --data-dir "$D" serve --gateway 127.0.0.1:0 --control 127.0.0.1:0 --log-file "$WORK/clients-serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do [ -s "$D/server.json" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"])' "$D/server.json")
fail=0
run() {  # label python script args...
  local label="$1"; shift
  if out=$(timeout 60 "$@" --url "$url" --model iris --host iris.modeldeck.local --auth "$key" 2>&1); then
    echo "PASS $label: $(echo "$out" | tail -1 | cut -c1-150)"
  else
    echo "FAIL $label: $(echo "$out" | tail -3)"; fail=1
  fi
}
run "kserve V1 InferenceRESTClient" "$WORK/venv-kserve/bin/python" "$CLIENTS/kserve_v1_rest.py"
run "kserve V2 InferenceRESTClient (JSON)" "$WORK/venv-kserve/bin/python" "$CLIENTS/kserve_v2_rest.py"
run "kserve V2 InferenceRESTClient (binary)" "$WORK/venv-kserve/bin/python" "$CLIENTS/kserve_v2_rest.py" --binary
run "mlserver codecs V2" "$WORK/venv-mlserver/bin/python" "$CLIENTS/mlserver_codecs_v2.py"
exit $fail
