#!/usr/bin/env bash
# The GPU checks in one call, on the lent GPU machine (no .NET there), from the repository root, after pack.sh:
#   run(command: "bash benchmarks/gpu/run.sh", carry: [".gpu/app.tar.xz"], timeout_s: 420)
# Trains the seed recipe on cuda step by step (LENET_CUDA_GRAPHS=0), then again replaying each step as a CUDA graph (the default),
# runs the GPU benchmarks (launches per step printed; the step eager and replayed, with the classifier head fused and
# unfused side by side) and the GPU tests. `run.sh quick` stops after the kernel tests; `run.sh generic` ends with the
# step on the kernels compiled once for all shapes (LENET_ILGPU_SPECIALIZE=0). (ILGPU O2 against O1:
# LENET_ILGPU_OPTIMIZATION=O2, measured in H200 run 3, benchmarks/README.md.)
# Every log and BenchmarkDotNet report goes into $OUT/logs.tgz, refreshed after each part (the device tool brings back
# only a few files). About 6 minutes on an H200 (run 5 was cut at 275 s during its last part): timeout_s 420.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
logs=/tmp/gpu-logs
mkdir -p "$out" "$logs"
save() { cp /tmp/app/BenchmarkDotNet.Artifacts/results/*-github.md "$logs/" 2>/dev/null; tar -C "$logs" -czf "$out/logs.tgz" .; }
tar xJf .gpu/app.tar.xz -C /tmp || exit 1
export DOTNET_ROOT=/tmp/app
cd /tmp/app || exit 1
mkdir -p shared && ln -sfn /tmp/app/mnist shared/mnist # where the end-to-end tests look for MNIST
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$logs/gpu.txt"
echo "== train"
LENET_CUDA_GRAPHS=0 timeout 60 ./LeNet.Train --device cuda --data mnist --output /tmp/run --no-pictures 2>&1 | tee "$logs/train-cuda.log" | grep -E "took|Accuracy|Trained"
echo "== train, each step replayed as a CUDA graph"
timeout 60 ./LeNet.Train --device cuda --data mnist --output /tmp/run-graphs --no-pictures 2>&1 | tee "$logs/train-cuda-graphs.log" | grep -E "took|Accuracy|Trained|CUDA graphs"
save
echo "== benchmarks"
timeout 270 ./LeNet.Benchmarks --filter '*GpuTraining*' '*CudaKernel*' --inProcess --job short 2>&1 | tee "$logs/bench.log" | grep -E "launches|graph|^\|" | tail -44
save
export LENET_TEST_GPU_ONLY=1 # the tests' CUDA cases only: CI runs the CPU accelerator's
echo "== kernel tests"
timeout 80 ./LeNet.Tests -namespace LeNet.Tests.Kernels.Cuda 2>&1 | tee "$logs/tests-kernels.log" | tail -4
save
[ "${1:-}" = quick ] && exit 0
echo "== core tests"
timeout 120 ./LeNet.Tests -class LeNet.Tests.Core.GpuBackendTests -class LeNet.Tests.Core.StepScheduleTests -class LeNet.Tests.Train.GpuTrainingTests 2>&1 | tee "$logs/tests-core.log" | tail -6
save
[ "${1:-}" = generic ] || exit 0
echo "== the step with the kernels compiled once for all shapes (LENET_ILGPU_SPECIALIZE=0), beside the default per-shape kernels above"
LENET_ILGPU_SPECIALIZE=0 timeout 120 ./LeNet.Benchmarks --filter '*GpuTraining*' --inProcess --job short --artifacts /tmp/bdn-generic 2>&1 | tee "$logs/bench-generic.log" | grep -E "launches|^\|" | tail -6
save
