#!/usr/bin/env bash
# Runs modeldeck, JPMML-Evaluator and onnxruntime on the same three models, ROUNDS times in
# turn (so machine noise hits all three alike). Needs the venv described in make_models.py with
# jpmml_evaluator, skl2onnx and onnxruntime, and Java 17. Loopback-free: nothing but CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
VENV=${VENV:-/tmp/pmmlenv}
. "$VENV/bin/activate"
[ -f target/bench-pmml/forest.pmml ] || python3 benches/pmml/make_models.py
JARS=$(python3 -c 'import jpmml_evaluator, os; d=os.path.join(os.path.dirname(jpmml_evaluator.__file__), "dependencies"); print(":".join(os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".jar")))')
mkdir -p target/bench-pmml/java
javac -d target/bench-pmml/java -cp "$JARS" benches/pmml/JpmmlBench.java
cargo bench --bench pmml --no-run 2>/dev/null
BENCH=$(ls -t target/release/deps/pmml-* | grep -v '\.d$' | head -1)
for round in $(seq "$ROUNDS"); do
  echo "## round $round"
  "$BENCH" | sed 's/^/modeldeck /'
  python3 benches/pmml/ort_bench.py | sed 's/^/onnxruntime /'
  for m in forest gbm pipeline; do
    csv=cancer.csv; [ "$m" = pipeline ] && csv=pipeline.csv
    java -cp "target/bench-pmml/java:$JARS" JpmmlBench "target/bench-pmml/$m.pmml" "target/bench-pmml/$csv" 2>/dev/null | sed 's/^/jpmml /'
  done
done
