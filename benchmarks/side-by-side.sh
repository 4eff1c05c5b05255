#!/usr/bin/env bash
# One epoch of the seed recipe, ours and libtorch (TorchSharp anchor) alternately, on the same cores, so that their
# ratio is measured under the same conditions. Needs ../shared/anchors and ../shared/mnist beside this repository.
# usage: benchmarks/side-by-side.sh [ROUNDS] [THREADS]
set -euo pipefail
rounds="${1:-3}"
threads="${2:-2}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="$repo/../shared"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

dotnet build "$repo/LeNet.Train" -c Release -nologo -v q >/dev/null
echo "| round | ours: epoch s | ours: test acc % | libtorch (TorchSharp): epoch s | libtorch: test acc % | libtorch / ours |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  rm -rf "$out/ours"
  dotnet "$repo/LeNet.Train/bin/Release/net10.0/LeNet.Train.dll" --data "$shared/mnist" --epochs 1 --threads "$threads" \
    --output "$out/ours" --no-pictures > "$out/ours.log"
  ours_s=$(grep -oP 'Epoch \[1/1\] took \K[0-9.]+' "$out/ours.log")
  ours_acc=$(grep -oP 'test images: \K[0-9.]+' "$out/ours.log")
  "$shared/anchors/torchsharp/run.sh" --threads "$threads" --epochs 1 > "$out/torch.log"
  torch_json=$(grep '^RESULT ' "$out/torch.log" | sed 's/^RESULT //')
  torch_s=$(echo "$torch_json" | grep -oP '"epoch_s":\[\K[0-9.]+' || echo "?")
  torch_acc=$(echo "$torch_json" | grep -oP '"test_acc":\K[0-9.]+' || echo "?")
  ratio=$(awk -v t="$torch_s" -v o="$ours_s" 'BEGIN {if (t + 0 > 0 && o + 0 > 0) printf "%.2f", t / o; else print "?"}')
  echo "| $round | $ours_s | $ours_acc | $torch_s | $torch_acc | $ratio |"
done
