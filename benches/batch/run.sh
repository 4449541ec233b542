#!/usr/bin/env bash
# Batch scoring, side by side in one run: `modeldeck score` with one and two threads, and
# pandas + onnxruntime on the same model as ONNX, over the same CSV (100k and 1M rows of the
# breast-cancer features through the 100-tree random forest). Prints wall seconds, CPU
# seconds (user + system) and peak memory per command and round.
#
#   python3 -m venv /tmp/pmmlenv && . /tmp/pmmlenv/bin/activate
#   pip install scikit-learn==1.9.0 sklearn2pmml==0.133.1 skl2onnx==1.20.0 onnx onnxruntime pandas
#   python3 benches/pmml/make_models.py && cargo build --release
#   ROUNDS=3 bash benches/batch/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
B=target/bench-pmml
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PY=${PYTHON:-python3}
ROUNDS=${ROUNDS:-3}
# 1M rows: the 100k rows ten times.
if [ ! -f $B/cancer-1m.csv ]; then
    { head -1 $B/cancer.csv; for _ in $(seq 10); do tail -n +2 $B/cancer.csv; done; } > $B/cancer-1m.csv
fi
measure() { # label command…
    local label=$1; shift
    /usr/bin/time -f "$label %e %U %S %M" "$@" > /dev/null 2>> "$OUT/times" || { cat "$OUT/times"; exit 1; }
}
echo "command rows round wall_s user_s sys_s max_rss_kb"
for round in $(seq "$ROUNDS"); do
    for rows in 100k 1m; do
        input=$B/cancer.csv
        [ $rows = 1m ] && input=$B/cancer-1m.csv
        : > "$OUT/times"
        measure "score-t1 $rows $round" target/release/modeldeck score --model $B/forest.pmml --input $input --output $OUT/a.csv --threads 1
        measure "score-t2 $rows $round" target/release/modeldeck score --model $B/forest.pmml --input $input --output $OUT/b.csv --threads 2
        measure "pandas-ort $rows $round" "$PY" benches/batch/pandas_ort.py $B/forest.onnx $input $OUT/c.csv
        grep -v -e "^Command" -e "^scored" "$OUT/times"
    done
done
