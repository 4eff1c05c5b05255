#!/usr/bin/env bash
# The GPU checks in one call, on the lent GPU machine (no .NET there), from the repository root, after pack.sh:
#   run(command: "bash benchmarks/gpu/run.sh", carry: [".gpu/app.tar.xz"], timeout_s: 540)
# Trains the seed recipe on cuda step by step, then again replaying each step as a CUDA graph (LENET_CUDA_GRAPHS=1),
# runs the GPU benchmarks (launches per step printed; the step eager and replayed) and the GPU tests; every log and
# BenchmarkDotNet report goes to $OUT; last, the step again with the kernels at ILGPU O2 (LENET_ILGPU_OPTIMIZATION).
# About 8 minutes on an H100, start-up included; what runs out of time is the O2 comparison at the end.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
tar xJf .gpu/app.tar.xz -C /tmp || exit 1
export DOTNET_ROOT=/tmp/app
cd /tmp/app || exit 1
mkdir -p shared && ln -sfn /tmp/app/mnist shared/mnist # where the end-to-end tests look for MNIST
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
echo "== train"
timeout 60 ./LeNet.Train --device cuda --data mnist --output /tmp/run --no-pictures 2>&1 | tee "$out/train-cuda.log" | tail -13
echo "== train, each step replayed as a CUDA graph"
LENET_CUDA_GRAPHS=1 timeout 60 ./LeNet.Train --device cuda --data mnist --output /tmp/run-graphs --no-pictures 2>&1 | tee "$out/train-cuda-graphs.log" | tail -14
echo "== benchmarks"
timeout 200 ./LeNet.Benchmarks --filter '*GpuTraining*' '*CudaKernel*' --inProcess --job short 2>&1 | tee "$out/bench.log" | grep -E "launches|graph|^\|" | tail -28
cp BenchmarkDotNet.Artifacts/results/*-github.md "$out/" 2>/dev/null
export LENET_TEST_GPU_ONLY=1 # the tests' CUDA cases only: CI runs the CPU accelerator's
echo "== kernel tests"
timeout 80 ./LeNet.Tests -namespace LeNet.Tests.Kernels.Cuda 2>&1 | tee "$out/tests-kernels.log" | tail -4
echo "== core tests"
timeout 120 ./LeNet.Tests -class LeNet.Tests.Core.GpuBackendTests -class LeNet.Tests.Core.StepScheduleTests -class LeNet.Tests.Train.GpuTrainingTests 2>&1 | tee "$out/tests-core.log" | tail -6
echo "== O2 instead of O1: training with graphs, then the step and evaluation"
LENET_ILGPU_OPTIMIZATION=O2 LENET_CUDA_GRAPHS=1 timeout 40 ./LeNet.Train --device cuda --data mnist --output /tmp/run-o2 --no-pictures 2>&1 | tee "$out/train-cuda-graphs-o2.log" | tail -3
LENET_ILGPU_OPTIMIZATION=O2 timeout 90 ./LeNet.Benchmarks --filter '*GpuTraining*' --inProcess --job short --artifacts /tmp/bdn-o2 2>&1 | tee "$out/bench-o2.log" | grep -E "launches|^\|" | tail -6
