using BenchmarkDotNet.Attributes;
using C = LeNet.Kernels.Cpu;
using P = LeNet.Benchmarks.Primitives;
using R = LeNet.Kernels.Reference;

namespace LeNet.Benchmarks;

/// <summary>
/// One Adam step (and one SGD-with-momentum step) over LeNet-5's 61,750 parameters (14 tensors, one call each):
/// Reference vs Cpu vs Primitives.
/// </summary>
[MemoryDiagnoser]
public class OptimizerBenchmarks
{
    // conv1 weight/bias, bn1 gamma/beta, conv2 weight/bias, bn2 gamma/beta, fc1, fc2, fc3 weight/bias: 61,750 in all.
    private static readonly int[] Sizes = [150, 6, 6, 6, 2_400, 16, 16, 16, 48_000, 120, 10_080, 84, 840, 10];
    private float[][] _parameters = [], _grads = [], _first = [], _second = [];
    private int _step;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(6);
        _parameters = Sizes.Select(n => RandomData.Values(random, n)).ToArray();
        _grads = Sizes.Select(n => RandomData.Values(random, n, -0.01f, 0.01f)).ToArray();
        _first = Sizes.Select(n => new float[n]).ToArray();
        _second = Sizes.Select(n => new float[n]).ToArray();
    }

    [Benchmark]
    public void ReferenceAdam()
    {
        _step++;
        for (int t = 0; t < Sizes.Length; t++)
            R.Adam.Step<float>(_parameters[t], _grads[t], _first[t], _second[t], _step, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f);
    }

    [Benchmark]
    public void CpuAdam()
    {
        _step++;
        for (int t = 0; t < Sizes.Length; t++)
            C.Adam.Step(_parameters[t], _grads[t], _first[t], _second[t], _step, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f);
    }

    [Benchmark]
    public void PrimitivesAdam()
    {
        _step++;
        for (int t = 0; t < Sizes.Length; t++)
            P.Adam.Step(_parameters[t], _grads[t], _first[t], _second[t], _step, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f);
    }

    [Benchmark]
    public void ReferenceSgdMomentum()
    {
        for (int t = 0; t < Sizes.Length; t++)
            R.Sgd.Step<float>(_parameters[t], _grads[t], _first[t], false, 1e-2f, 0.9f, 0f, 0f, false);
    }

    [Benchmark]
    public void CpuSgdMomentum()
    {
        for (int t = 0; t < Sizes.Length; t++)
            C.Sgd.Step(_parameters[t], _grads[t], _first[t], false, 1e-2f, 0.9f, 0f, 0f, false);
    }
}
