using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using LeNet.Kernels.Cpu;

namespace LeNet.Benchmarks;

/// <summary>
/// The packed GEMM on one core at each vector width, on a cache-friendly square-ish product (384×512×256 = 50.3 M
/// multiply-adds: GFLOP/s = 100.7 / µs · 1000) that shows the micro-kernel's rate, and on both cores.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private const int M = 384, N = 512, K = 256;
    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _a = Enumerable.Range(0, M * K).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, K * N).Select(_ => (float)random.NextDouble()).ToArray();
        _c = new float[M * N];
    }

    [Benchmark] public void Vector512OneCore() => Gemm.Multiply<Vector512<float>>(false, false, M, N, K, _a, K, _b, N,
        _c, N, false, parallel: false);
    [Benchmark] public void Vector256OneCore() => Gemm.Multiply<Vector256<float>>(false, false, M, N, K, _a, K, _b, N,
        _c, N, false, parallel: false);
    [Benchmark] public void Vector128OneCore() => Gemm.Multiply<Vector128<float>>(false, false, M, N, K, _a, K, _b, N,
        _c, N, false, parallel: false);
    [Benchmark] public void AllCores() => Gemm.MultiplyParallel(false, false, M, N, K, _a, K, _b, N, _c, N, false);
}
