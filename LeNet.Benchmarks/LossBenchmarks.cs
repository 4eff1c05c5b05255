using BenchmarkDotNet.Attributes;
using C = LeNet.Kernels.Cpu;
using P = LeNet.Benchmarks.Primitives;
using R = LeNet.Kernels.Reference;

namespace LeNet.Benchmarks;

/// <summary>
/// Softmax cross-entropy over [batch, 10] logits (training batch 64, evaluation batch 1000): Reference vs Cpu vs
/// Primitives.
/// </summary>
[MemoryDiagnoser]
public class LossBenchmarks
{
    private float[] _logits = [], _probabilities = [], _logitsGrad = [];
    private int[] _labels = [];

    [Params(64, 1000)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        _logits = RandomData.Values(random, Batch * 10, -5, 5);
        _labels = Enumerable.Range(0, Batch).Select(_ => random.Next(10)).ToArray();
        _probabilities = new float[Batch * 10];
        _logitsGrad = new float[Batch * 10];
        C.SoftmaxCrossEntropy.Forward(_logits, _labels, _probabilities, Batch, 10);
    }

    [Benchmark] public float ReferenceForward() => R.SoftmaxCrossEntropy.Forward<float>(_logits, _labels,
        _probabilities, Batch, 10);
    [Benchmark] public float CpuForward() => C.SoftmaxCrossEntropy.Forward(_logits, _labels, _probabilities, Batch, 10);
    [Benchmark] public float PrimitivesForward() => P.SoftmaxCrossEntropy.Forward(_logits, _labels,
        _probabilities, Batch, 10);
    [Benchmark] public void ReferenceBackward() => R.SoftmaxCrossEntropy.Backward<float>(_probabilities, _labels, 1f,
        _logitsGrad, Batch, 10);
    [Benchmark] public void CpuBackward() => C.SoftmaxCrossEntropy.Backward(_probabilities, _labels, 1f,
        _logitsGrad, Batch, 10);
    [Benchmark] public void PrimitivesBackward() => P.SoftmaxCrossEntropy.Backward(_probabilities, _labels, 1f,
        _logitsGrad, Batch, 10);
}
