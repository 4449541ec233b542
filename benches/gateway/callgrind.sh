#!/usr/bin/env bash
# Instructions per request through the gateway in-process (benches/gateway/inproc.rs), counted
# by callgrind for two builds of that bench: runs of N and 2N requests, so the difference is
# the requests alone (set-up and model loading cancel out).
#
#   bash benches/gateway/callgrind.sh OLD_BENCH_BIN NEW_BENCH_BIN [N]
set -euo pipefail
OLD="$1" NEW="$2" N="${3:-2000}"
count() {  # bin requests → instructions
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$1" "$2" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"; rm -f "$out"
}
for label in old new; do
  bin=$OLD; [ "$label" = new ] && bin=$NEW
  a=$(count "$bin" "$N"); b=$(count "$bin" $((2 * N)))
  per=$(( (b - a) / N ))
  echo "$label: $per instructions per request"
  eval "per_$label=$per"
done
python3 -c "print(f'new / old: {$per_new / $per_old:.4f}')"
