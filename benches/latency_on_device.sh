#!/usr/bin/env bash
# Latency figures of one machine, for the README: for every device named, a predictor table of
# `mobile-micro` (1x1x8x8) and `proxylessnas` (1x3x64x64) built and evaluated on 100 held-out
# samples (twice, for the machine's own noise ceiling), the rankings of all devices compared, and
# the forward-pass bench; then, on every burn device, the search-then-retrain flow on a generated
# CIFAR-shaped set (10 classes, 3x32x32, `nasbench201`), timed. Run it where the latency matters,
# e.g. on a GPU machine:
#
#   benches/latency_on_device.sh flex cuda wgpu      # each device needs its cargo feature
#   benches/latency_on_device.sh flex tract          # burn against the ONNX runtime (built in)
#
# (Building the `cuda` feature downloads an LLVM bundle: without internet, pass a binary built
# elsewhere in HWNAS, or measure the GPU through wgpu.)
#
# Environment: OUT (default latency-figures/) receives one file per step; HWNAS, a prebuilt
# `hwnas` binary with the devices' features, skips the build; SAMPLES (default 100); BENCH=0 skips
# the bench (its build takes long on a fresh machine); TRAIN=0 skips the training flow.
set -euo pipefail
cd "$(dirname "$0")/.."

devices=("${@:-flex}")
out="${OUT:-latency-figures}"
samples="${SAMPLES:-100}"
mkdir -p "$out"

features=()
for device in "${devices[@]}"; do
  case "$device" in flex | tract) ;; *) features+=("$device") ;; esac
done
feature_list=$(IFS=,; echo "${features[*]:-}")

hwnas="${HWNAS:-}"
if [ -z "$hwnas" ]; then
  cargo build --release -p hwnas ${feature_list:+--features "$feature_list"}
  hwnas=target/release/hwnas
fi

{
  echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | xargs)"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  echo "devices: ${devices[*]}; $(date -u +%Y-%m-%dT%H:%MZ)"
} > "$out/machine.txt"

for space in "mobile-micro" "proxylessnas --input 1,3,64,64"; do
  name=${space%% *}
  tables=()
  for device in "${devices[@]}"; do
    table="$out/$name-$device.json"
    # shellcheck disable=SC2086 # `space` carries the name and its input flag
    "$hwnas" latency build $space --device "$device" --out "$table" > "$out/$name-$device-build.txt"
    "$hwnas" latency evaluate --table "$table" --device "$device" --samples "$samples" --twice \
      > "$out/$name-$device-evaluate.md"
    tables+=("$table")
  done
  if [ "${#devices[@]}" -ge 2 ]; then
    "$hwnas" latency compare --tables "${tables[@]}" --samples "$samples" --measure "${devices[@]}" \
      > "$out/$name-compare.md"
  fi
done

if [ "${TRAIN:-1}" != 0 ]; then
  data="$out/cifar-shaped"
  [ -d "$data" ] || "$hwnas" data synthetic --out "$data" --format cifar --per-class 500 --test-per-class 100
  for device in "${devices[@]}"; do
    [ "$device" = tract ] && continue
    run="$out/train-$device"
    rm -rf "$run"
    { time "$hwnas" search nasbench201 --data "$data" --augment --device "$device" --trials 4 \
        --epochs 2 --population 2 --sample-size 1 --out "$run/search"; } > "$out/train-$device.txt" 2>&1
    { time "$hwnas" train nasbench201 --sample "$run/search/best.json" --data "$data" --augment \
        --device "$device" --epochs 5 --out "$run/final"; } >> "$out/train-$device.txt" 2>&1
  done
fi

if [ "${BENCH:-1}" != 0 ]; then
  cargo bench -p hwnas-benches ${feature_list:+--features "$feature_list"} --bench latency \
    > "$out/bench-latency.txt"
fi
echo "figures in $out/"
