using BenchmarkDotNet.Attributes;
using LeNet.Kernels;
using K = LeNet.Kernels.Reference;
using Fast = LeNet.Kernels.Cpu;
using TP = LeNet.Benchmarks.Primitives;

namespace LeNet.Benchmarks;

/// <summary>
/// The two convolutions of LeNet-5 at the seed's batch of 64, forward and the three backward kernels: Reference
/// (scalar), Cpu (im2col + packed GEMM, all cores) and Primitives (TensorPrimitives, one core). Multiply-adds per call:
/// conv1 7.5 M, conv2 15.4 M for forward, input and weight gradient (GFLOP/s = 2 · that / time).
/// </summary>
[MemoryDiagnoser]
public class ConvolutionBenchmarks
{
    private float[] _input = [], _weight = [], _bias = [], _output = [], _inputGrad = [],
        _weightGrad = [], _biasGrad = [];
    private ConvShape _shape;

    /// <summary>conv1: 1→6 channels on 32×32; conv2: 6→16 channels on 14×14.</summary>
    [Params("conv1", "conv2")]
    public string Layer { get; set; } = "conv1";

    [GlobalSetup]
    public void Setup()
    {
        _shape = Layer == "conv1" ? new ConvShape(64, 1, 32, 32, 6, 5, 5) : new ConvShape(64, 6, 14, 14, 16, 5, 5);
        var random = new Random(1);
        _input = RandomData.Values(random, _shape.InputLength);
        _weight = RandomData.Values(random, _shape.WeightLength);
        _bias = RandomData.Values(random, _shape.OutChannels);
        _output = RandomData.Values(random, _shape.OutputLength);
        _inputGrad = new float[_shape.InputLength];
        _weightGrad = new float[_shape.WeightLength];
        _biasGrad = new float[_shape.OutChannels];
    }

    [Benchmark] public void ReferenceForward() => K.Conv2d.Forward<float>(_input, _weight, _bias, _output, _shape);
    [Benchmark] public void ReferenceBackwardInput() => K.Conv2d.BackwardInput<float>(_output,
        _weight, _inputGrad, _shape);
    [Benchmark] public void ReferenceBackwardWeight() => K.Conv2d.BackwardWeight<float>(_input,
        _output, _weightGrad, _shape);
    [Benchmark] public void ReferenceBackwardBias() => K.Conv2d.BackwardBias<float>(_output, _biasGrad, _shape);

    [Benchmark] public void CpuForward() => Fast.Conv2d.Forward(_input, _weight, _bias, _output, _shape);
    [Benchmark] public void CpuBackwardInput() => Fast.Conv2d.BackwardInput(_output, _weight, _inputGrad, _shape);
    [Benchmark] public void CpuBackwardWeight() => Fast.Conv2d.BackwardWeight(_input, _output, _weightGrad, _shape);
    [Benchmark] public void CpuBackwardBias() => Fast.Conv2d.BackwardBias(_output, _biasGrad, _shape);

    [Benchmark] public void PrimitivesForward() => TP.Conv2d.Forward(_input, _weight, _bias, _output, _shape);
    [Benchmark] public void PrimitivesBackwardInput() => TP.Conv2d.BackwardInput(_output, _weight, _inputGrad, _shape);
    [Benchmark] public void PrimitivesBackwardWeight() => TP.Conv2d.BackwardWeight(_input,
        _output, _weightGrad, _shape);
    [Benchmark] public void PrimitivesBackwardBias() => TP.Conv2d.BackwardBias(_output, _biasGrad, _shape);
}
