#!/usr/bin/env bash
# The CPU targets of issue 22 measured in one go, in markdown: the machine, the seed recipe's epoch side by side with
# libtorch, one thread against two, the seed run as the README starts it, and inference against ONNX Runtime.
# Needs ../shared/anchors and ../shared/mnist beside this repository.
# usage: benchmarks/cpu-targets.sh [ROUNDS]   (e.g. > benchmarks/runs/cpu-targets-$(date +%F).md)
set -euo pipefail
rounds="${1:-3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="$repo/../shared"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
train="$repo/LeNet.Train/bin/Release/net10.0/LeNet.Train.dll"

dotnet build "$repo/LeNet.Train" -c Release -nologo -v q >/dev/null
dotnet build "$repo/LeNet.Benchmarks" -c Release -nologo -v q >/dev/null

echo "## CPU targets, $(date -u '+%F %H:%M UTC'), commit $(git -C "$repo" rev-parse --short HEAD)"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores," \
  "$(grep -o 'avx512f' /proc/cpuinfo | head -1 || echo 'no AVX-512'), .NET SDK $(dotnet --version)."
echo
echo "### Epochs side by side: \`benchmarks/side-by-side.sh $rounds 2\`"
echo
bash "$repo/benchmarks/side-by-side.sh" "$rounds" 2

# The epoch times of one run, in order: epochs LOG
epochs() { grep -oP 'Epoch \[\d+/\d+\] took \K[0-9.]+' "$1" | tr '\n' ' '; }
echo
echo "### One thread against two: \`LeNet.Train train --epochs 3 --threads T\`, alternating"
echo
# The median of a list of numbers: median 1.2 1.1 1.3
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "| round | 1 thread: epochs s | 2 threads: epochs s | 1 thread / 2 threads (medians) |"
echo "|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  for t in 1 2; do
    rm -rf "$out/threads"
    dotnet "$train" train --data "$shared/mnist" --epochs 3 --threads "$t" --output "$out/threads" --no-pictures \
      > "$out/threads-$t.log"
  done
  one=$(median $(epochs "$out/threads-1.log")) two=$(median $(epochs "$out/threads-2.log"))
  echo "| $round | $(epochs "$out/threads-1.log") | $(epochs "$out/threads-2.log") |" \
    "$(awk -v a="$one" -v b="$two" 'BEGIN {printf "%.2f", a / b}') |"
done

echo
echo "### The seed run: \`LeNet.Train --data MNIST\` (the README's command, default threads)"
echo
rm -rf "$out/seed"
dotnet "$train" --data "$shared/mnist" --output "$out/seed" --no-pictures > "$out/seed.log"
echo "Epochs s: $(epochs "$out/seed.log")"
echo
grep -E 'Accuracy of the network|Trained in' "$out/seed.log" | sed 's/ model saved.*//; s/^/    /'

echo
echo "### Inference: ONNX Runtime (2 threads, batch 64) and InferenceBenchmarks.TenThousandImages (batch 64), alternating"
echo
dotnet "$train" export --model "$out/seed/model.safetensors" --onnx "$out/lenet5.onnx" --quiet
ort() { "$shared/anchors/ort/run.sh" "$out/lenet5.onnx" --batch 64 --threads 2 --passes 5 | grep '^RESULT ' |
  grep -oP '"images_per_s":\K[0-9.]+'; }
# Ours as a user runs it (the model's forward in evaluation mode): microseconds per image at batch 64.
ours() { (cd "$repo" && dotnet run -c Release --no-build --project LeNet.Benchmarks -- \
  --filter '*InferenceBenchmarks.TenThousandImages*' --warmupCount 3 --iterationCount 10 --launchCount 1) |
  grep -E '^\| TenThousandImages +\| 64 ' | awk -F'|' '{print $4}' |
  awk '{v = $1; if ($2 == "ns") v /= 1000; if ($2 == "ms") v *= 1000; print v}'; }
echo "| round | ONNX Runtime: images/s | ours: us per image | ours: images/s | ours / ONNX Runtime |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  o=$(ort)
  us=$(ours)
  echo "| $round | $o | $us | $(awk -v u="$us" 'BEGIN {printf "%.0f", 1e6 / u}') |" \
    "$(awk -v u="$us" -v o="$o" 'BEGIN {printf "%.2f", 1e6 / u / o}') |"
done
