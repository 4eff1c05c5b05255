using BenchmarkDotNet.Attributes;
using LeNet.Kernels;
using K = LeNet.Kernels.Reference;
using Fast = LeNet.Kernels.Cpu;
using TP = LeNet.Benchmarks.Primitives;

namespace LeNet.Benchmarks;

/// <summary>
/// The three linear layers of LeNet-5 at batch 64: Reference (scalar), Cpu (packed GEMM, tiles across the cores) and
/// Primitives (TensorPrimitives dots and AXPYs, one core). Multiply-adds per call (forward, input or weight gradient):
/// fc 3.07 M, fc1 0.65 M, fc2 0.054 M.
/// </summary>
[MemoryDiagnoser]
public class LinearBenchmarks
{
    private float[] _input = [], _weight = [], _bias = [], _output = [], _inputGrad = [],
        _weightGrad = [], _biasGrad = [];
    private LinearShape _shape;

    /// <summary>fc: 400→120, fc1: 120→84, fc2: 84→10.</summary>
    [Params("fc", "fc1", "fc2")]
    public string Layer { get; set; } = "fc";

    [GlobalSetup]
    public void Setup()
    {
        _shape = Layer switch
        {
            "fc" => new LinearShape(64, 400, 120),
            "fc1" => new LinearShape(64, 120, 84),
            _ => new LinearShape(64, 84, 10),
        };
        var random = new Random(1);
        _input = RandomData.Values(random, _shape.InputLength);
        _weight = RandomData.Values(random, _shape.WeightLength);
        _bias = RandomData.Values(random, _shape.OutFeatures);
        _output = RandomData.Values(random, _shape.OutputLength);
        _inputGrad = new float[_shape.InputLength];
        _weightGrad = new float[_shape.WeightLength];
        _biasGrad = new float[_shape.OutFeatures];
    }

    [Benchmark] public void ReferenceForward() => K.Linear.Forward<float>(_input, _weight, _bias, _output, _shape);
    [Benchmark] public void ReferenceBackwardInput() => K.Linear.BackwardInput<float>(_output,
        _weight, _inputGrad, _shape);
    [Benchmark] public void ReferenceBackwardWeight() => K.Linear.BackwardWeight<float>(_input,
        _output, _weightGrad, _shape);
    [Benchmark] public void ReferenceBackwardBias() => K.Linear.BackwardBias<float>(_output, _biasGrad, _shape);

    [Benchmark] public void CpuForward() => Fast.Linear.Forward(_input, _weight, _bias, _output, _shape);
    [Benchmark] public void CpuBackwardInput() => Fast.Linear.BackwardInput(_output, _weight, _inputGrad, _shape);
    [Benchmark] public void CpuBackwardWeight() => Fast.Linear.BackwardWeight(_input, _output, _weightGrad, _shape);
    [Benchmark] public void CpuBackwardBias() => Fast.Linear.BackwardBias(_output, _biasGrad, _shape);

    [Benchmark] public void PrimitivesForward() => TP.Linear.Forward(_input, _weight, _bias, _output, _shape);
    [Benchmark] public void PrimitivesBackwardInput() => TP.Linear.BackwardInput(_output, _weight, _inputGrad, _shape);
    [Benchmark] public void PrimitivesBackwardWeight() => TP.Linear.BackwardWeight(_input,
        _output, _weightGrad, _shape);
    [Benchmark] public void PrimitivesBackwardBias() => TP.Linear.BackwardBias(_output, _biasGrad, _shape);
}
