#!/usr/bin/env bash
# The gateway's latency while a batch run goes: p99 of a served service with the machine idle,
# then again while a job scores the 1M-row file through the 100-tree forest (its worker is a
# niced child with a thread per core). Loopback, bounded: wrk, 2 connections, DURATION s each.
#
#   python3 benches/pmml/make_models.py && bash benches/batch/run.sh   # makes cancer-1m.csv
#   cargo build --release && ROUNDS=3 bash benches/batch/gateway_p99.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
B=$PWD/target/bench-pmml
MD=$PWD/target/release/modeldeck
WORK=$(mktemp -d)
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
trap '$MD --data-dir $WORK/data stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/data"
printf 'gateway = "127.0.0.1:18286"\ncontrol = "127.0.0.1:18287"\n' > "$WORK/data/config.toml"
md() { "$MD" --data-dir "$WORK/data" "$@"; }
md models import assets/iris/iris.pmml --name iris > /dev/null
md models import $B/forest.pmml --name forest > /dev/null
KEY=$(md services deploy iris --model iris --json | sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')
md jobs create big --model forest --input $B/cancer-1m.csv --output "$WORK/out-{run}.csv" \
    --cron "0 0 1 1 *" ${THREADS:+--threads $THREADS} > /dev/null
md serve --log-file "$WORK/serve.log" > /dev/null 2>&1 &
for _ in $(seq 100); do md status > /dev/null 2>&1 && break; sleep 0.1; done
echo '{"instances":[{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}' > "$WORK/body.json"
p99() {
    wrk -t1 -c2 -d"${DURATION}s" --latency -s ../shared/bench/peers/wrk_predict.lua \
        http://127.0.0.1:18286/v1/models/iris:predict -- "$WORK/body.json" \
        "Host:iris.modeldeck.local" "Authorization:$KEY" | awk '/^ +99%/ {print $2}'
}
echo "round idle_p99 during_run_p99"
for round in $(seq "$ROUNDS"); do
    idle=$(p99)
    md jobs run big > /dev/null
    sleep 1
    during=$(p99)
    while md jobs runs big --json | grep -q '"state": *"running"'; do sleep 0.5; done
    echo "$round $idle $during"
done
