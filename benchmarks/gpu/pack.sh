#!/usr/bin/env bash
# Builds .gpu/app.tar.xz for run.sh: the trainer, the tests and the benchmarks, self-contained for linux-x64, with
# MNIST (../shared/tools/device-pack.sh), minus the native libraries of ONNX Runtime and of BenchmarkDotNet's
# disassembler, which the GPU checks do not use and which would push the archive past the 64 MiB that travels.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/tools/device-pack.sh LeNet.Train LeNet.Tests LeNet.Benchmarks
rm -f .gpu/app/onnxruntime.dll .gpu/app/libonnxruntime.so .gpu/app/libonnxruntime_providers_shared.so .gpu/app/libcapstone.so
rm -f .gpu/app.tar.xz
tar -C .gpu -cJf .gpu/app.tar.xz app
echo "packed .gpu/app.tar.xz: $(du -m .gpu/app.tar.xz | cut -f1) MB"
