#!/usr/bin/env bash
# The GPU checks in one call, on the lent GPU machine (no .NET there), from the repository root, after pack.sh:
#   run(command: "bash benchmarks/gpu/run.sh", carry: [".gpu/app.tar.xz"], timeout_s: 420)
# Trains the seed recipe on cuda, runs the GPU benchmarks (launches per step printed; the step launched one by one and
# replayed as a CUDA graph, under the trainer's GpuOptions and under each option changed alone: head unfused, generic
# kernels, ILGPU O2; every CUDA kernel at the trainer's options) and the GPU tests. `run.sh quick` stops after the
# kernel tests; `run.sh options` ends with every CUDA kernel compiled the other ways (generic kernels, O2).
# Every log and BenchmarkDotNet report goes into $OUT/logs.tgz, refreshed after each part (the device tool brings back
# only a few files). About 6 minutes on an H200: timeout_s 420.
# Each part's exit code is kept (a timeout is 124); the last line sums them up, and the script exits non-zero when any
# part failed. The tests run GPU-only: there, a GPU that does not open fails them instead of leaving them out.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
logs=/tmp/gpu-logs
mkdir -p "$out" "$logs"
results=()
failed=0
# record NAME CODE: keeps a part's exit code (the first command of its pipeline, read from PIPESTATUS by the caller).
record() { results+=("$1 $2"); [ "$2" -eq 0 ] || failed=$((failed + 1)); }
summary() {
  local IFS=,
  echo "== GPU checks (exit codes):${results[*]/#/ }; $failed of ${#results[@]} parts failed"
  [ "$failed" -eq 0 ]
}
save() { cp /tmp/app/BenchmarkDotNet.Artifacts/results/*-github.md "$logs/" 2>/dev/null; tar -C "$logs" -czf "$out/logs.tgz" .; }
tar xJf .gpu/app.tar.xz -C /tmp || { echo "== GPU checks: the archive .gpu/app.tar.xz did not unpack"; exit 1; }
export DOTNET_ROOT=/tmp/app
cd /tmp/app || exit 1
mkdir -p shared && ln -sfn /tmp/app/mnist shared/mnist # where the end-to-end tests look for MNIST
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$logs/gpu.txt"
record nvidia-smi "${PIPESTATUS[0]}"
echo "== train"
timeout 60 ./LeNet.Train --device cuda --data mnist --output /tmp/run --no-pictures 2>&1 | tee "$logs/train-cuda.log" \
  | grep -E "took|Accuracy|Trained|CUDA graphs"
record train "${PIPESTATUS[0]}"
save
echo "== benchmarks"
# The parameter's text, e.g. "GpuOptions { Optimization = O1, SpecializeShapes = True, FuseHead = True }", is part of
# the name the filters match.
trainer_kernels='*CudaKernelBenchmarks*Optimization = O1, SpecializeShapes = True*'
timeout 300 ./LeNet.Benchmarks --filter '*GpuTrainingBenchmarks*' "$trainer_kernels" --inProcess --job short 2>&1 \
  | tee "$logs/bench.log" | grep -E "launches|graph|^\|" | tail -56
record benchmarks "${PIPESTATUS[0]}"
save
export LENET_TEST_GPU_ONLY=1 # the tests' CUDA cases only: CI runs the CPU accelerator's
echo "== kernel tests"
timeout 80 ./LeNet.Tests -namespace LeNet.Tests.Kernels.Cuda 2>&1 | tee "$logs/tests-kernels.log" | tail -4
record kernel-tests "${PIPESTATUS[0]}"
cat cuda-cases.txt 2>/dev/null | tee -a "$logs/cuda-cases.txt" # where the cases ran (LeNet.Tests CudaCases)
save
if [ "${1:-}" = quick ]; then summary; exit; fi
echo "== core tests"
timeout 120 ./LeNet.Tests -class LeNet.Tests.Core.GpuBackendTests -class LeNet.Tests.Core.StepScheduleTests -class LeNet.Tests.Train.GpuTrainingTests 2>&1 | tee "$logs/tests-core.log" | tail -6
record core-tests "${PIPESTATUS[0]}"
cat cuda-cases.txt 2>/dev/null | tee -a "$logs/cuda-cases.txt"
save
if [ "${1:-}" != options ]; then summary; exit; fi
echo "== every CUDA kernel compiled once for all shapes, and at O2, beside the trainer's kernels above"
timeout 240 ./LeNet.Benchmarks --filter '*CudaKernelBenchmarks*SpecializeShapes = False*' \
  '*CudaKernelBenchmarks*Optimization = O2*' --inProcess --job short --artifacts /tmp/bdn-options 2>&1 \
  | tee "$logs/bench-options.log" | grep -E "^\|" | tail -44
record option-benchmarks "${PIPESTATUS[0]}"
save
summary
