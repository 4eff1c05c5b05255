using BenchmarkDotNet.Attributes;
using C = LeNet.Kernels.Cpu;
using P = LeNet.Benchmarks.Primitives;
using R = LeNet.Kernels.Reference;

namespace LeNet.Benchmarks;

/// <summary>
/// ReLU (Reference vs Cpu vs Primitives), Tanh and Sigmoid (Reference vs Cpu) on LeNet-5's activation shapes at batch
/// 64.
/// </summary>
[MemoryDiagnoser]
public class ActivationBenchmarks
{
    private float[] _input = [], _output = [], _outputGrad = [], _inputGrad = [];

    /// <summary>Elements: conv1 [64, 6, 28, 28], conv2 [64, 16, 10, 10], fc1 [64, 120], fc2 [64, 84].</summary>
    [Params(64 * 6 * 28 * 28, 64 * 16 * 10 * 10, 64 * 120, 64 * 84)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(4);
        _input = RandomData.Values(random, Length, -3, 3);
        _output = new float[Length];
        _outputGrad = RandomData.Values(random, Length);
        _inputGrad = new float[Length];
    }

    [Benchmark] public void ReferenceReLUForward() => R.ReLU.Forward<float>(_input, _output);
    [Benchmark] public void CpuReLUForward() => C.ReLU.Forward(_input, _output);
    [Benchmark] public void PrimitivesReLUForward() => P.ReLU.Forward(_input, _output);
    [Benchmark] public void ReferenceReLUBackward() => R.ReLU.Backward<float>(_input, _outputGrad, _inputGrad);
    [Benchmark] public void CpuReLUBackward() => C.ReLU.Backward(_input, _outputGrad, _inputGrad);
    [Benchmark] public void PrimitivesReLUBackward() => P.ReLU.Backward(_input, _outputGrad, _inputGrad);

    [Benchmark] public void ReferenceTanhForward() => R.Tanh.Forward<float>(_input, _output);
    [Benchmark] public void CpuTanhForward() => C.Tanh.Forward(_input, _output);
    [Benchmark] public void ReferenceTanhBackward() => R.Tanh.Backward<float>(_input, _outputGrad, _inputGrad);
    [Benchmark] public void CpuTanhBackward() => C.Tanh.Backward(_input, _outputGrad, _inputGrad);

    [Benchmark] public void ReferenceSigmoidForward() => R.Sigmoid.Forward<float>(_input, _output);
    [Benchmark] public void CpuSigmoidForward() => C.Sigmoid.Forward(_input, _output);
}
