#!/usr/bin/env bash
# Drift and transfer of latency tables (docs/results.md, "A table of this machine after drift").
#
#   benches/latency_calibration.sh [DEVICE ...]      e.g. benches/latency_calibration.sh ndarray wgpu
#
# Builds flex tables of proxylessnas (1x3x64x64) and mobile-micro, waits WAIT seconds (default
# 900), then measures 35 random samples of each together: 10 calibrate the table, 25 are held
# out. For each DEVICE, builds a full table there, calibrates the flex table to it with K=10 and
# K=20, and evaluates all of them on 25 samples measured there right after. Needs a release
# build with the devices' features (HWNAS=path/to/hwnas to use another binary); writes to OUT
# (default latency-calibration/).
set -euo pipefail
HWNAS=${HWNAS:-target/release/hwnas}
OUT=${OUT:-latency-calibration}
WAIT=${WAIT:-900}
mkdir -p "$OUT"
cd "$OUT"
case "$HWNAS" in /*) ;; *) HWNAS="$OLDPWD/$HWNAS" ;; esac

space() { if [ "$1" = px ]; then echo "proxylessnas --input 1,3,64,64"; else echo mobile-micro; fi; }
evaluate() {
  "$HWNAS" latency evaluate --table "$1" --measured "$2" |
    grep -E "^\`|within \+-10|Kendall|Spearman|median\)"
}

for s in px mm; do
  # shellcheck disable=SC2046 # the space's name and input are two words
  "$HWNAS" latency build $(space $s) --device flex --out $s-flex.json
done
sleep "$WAIT"
for s in px mm; do
  name=$(space $s | cut -d' ' -f1)
  "$HWNAS" sample "$name" --count 35 --seed 11 >$s-samples.jsonl
  # shellcheck disable=SC2046
  "$HWNAS" latency measure $(space $s) --sample $s-samples.jsonl --json --interleave 35 >$s-measured.jsonl
  head -10 $s-measured.jsonl >$s-calibration.jsonl
  tail -25 $s-measured.jsonl >$s-held-out.jsonl
  echo "== $name on flex, as built"
  evaluate $s-flex.json $s-held-out.jsonl
  # shellcheck disable=SC2046
  "$HWNAS" latency fit $(space $s) --measured $s-calibration.jsonl --base $s-flex.json \
    --device flex --out $s-flex-calibrated.json
  echo "== $name on flex, calibrated with 10 measurements"
  evaluate $s-flex-calibrated.json $s-held-out.jsonl
done

for device in "$@"; do
  for s in px mm; do
    name=$(space $s | cut -d' ' -f1)
    start=$(date +%s.%N)
    # shellcheck disable=SC2046
    "$HWNAS" latency build $(space $s) --device "$device" --out $s-$device.json
    echo "full build on $device: $(awk "BEGIN { print $(date +%s.%N) - $start }") s"
    for k in 10 20; do
      start=$(date +%s.%N)
      "$HWNAS" latency calibrate --table $s-flex.json --device "$device" --samples $k \
        --seed $((k + 100)) --out $s-flex-to-$device-$k.json --save-measured $s-$device-calibration-$k.jsonl
      echo "calibration K=$k on $device: $(awk "BEGIN { print $(date +%s.%N) - $start }") s"
    done
    "$HWNAS" sample "$name" --count 25 --seed 12 >$s-held-out-2.jsonl
    # shellcheck disable=SC2046
    "$HWNAS" latency measure $(space $s) --device "$device" --sample $s-held-out-2.jsonl --json \
      >$s-$device-held-out.jsonl
    for table in $s-flex.json $s-flex-to-$device-10.json $s-flex-to-$device-20.json $s-$device.json; do
      echo "== $name on $device: $table"
      evaluate $table $s-$device-held-out.jsonl
    done
  done
done
