using BenchmarkDotNet.Attributes;
using LeNet.Kernels;
using C = LeNet.Kernels.Cpu;
using P = LeNet.Benchmarks.Primitives;
using R = LeNet.Kernels.Reference;

namespace LeNet.Benchmarks;

/// <summary>
/// LeNet-5's two 2×2 max pools at batch 64 (and average pooling on the same shapes): Reference vs Cpu vs Primitives.
/// </summary>
[MemoryDiagnoser]
public class PoolingBenchmarks
{
    private float[] _input = [], _output = [], _outputGrad = [], _inputGrad = [];
    private int[] _argmax = [];
    private PoolShape _shape;

    /// <summary>pool1: [64, 6, 28, 28] → 14×14; pool2: [64, 16, 10, 10] → 5×5.</summary>
    [Params("pool1", "pool2")]
    public string Layer { get; set; } = "pool1";

    [GlobalSetup]
    public void Setup()
    {
        _shape = Layer == "pool1" ? new PoolShape(64, 6, 28, 28, 2, 2) : new PoolShape(64, 16, 10, 10, 2, 2);
        var random = new Random(3);
        _input = RandomData.Values(random, _shape.InputLength);
        _output = new float[_shape.OutputLength];
        _outputGrad = RandomData.Values(random, _shape.OutputLength);
        _inputGrad = new float[_shape.InputLength];
        _argmax = new int[_shape.OutputLength];
        C.MaxPool2d.Forward(_input, _output, _argmax, _shape);
    }

    [Benchmark] public void ReferenceMaxForward() => R.MaxPool2d.Forward<float>(_input, _output, _argmax, _shape);
    [Benchmark] public void CpuMaxForward() => C.MaxPool2d.Forward(_input, _output, _argmax, _shape);
    [Benchmark] public void PrimitivesMaxForward() => P.MaxPool2d.Forward(_input, _output, _argmax, _shape);

    [Benchmark] public void ReferenceMaxBackward() => R.MaxPool2d.Backward<float>(_outputGrad,
        _argmax, _inputGrad, _shape);
    [Benchmark] public void CpuMaxBackward() => C.MaxPool2d.Backward(_outputGrad, _argmax, _inputGrad, _shape);
    [Benchmark] public void PrimitivesMaxBackward() => P.MaxPool2d.Backward(_outputGrad, _argmax, _inputGrad, _shape);

    [Benchmark] public void ReferenceAvgForward() => R.AvgPool2d.Forward<float>(_input, _output, _shape);
    [Benchmark] public void CpuAvgForward() => C.AvgPool2d.Forward(_input, _output, _shape);
    [Benchmark] public void ReferenceAvgBackward() => R.AvgPool2d.Backward<float>(_outputGrad, _inputGrad, _shape);
    [Benchmark] public void CpuAvgBackward() => C.AvgPool2d.Backward(_outputGrad, _inputGrad, _shape);
}
