using BenchmarkDotNet.Attributes;
using LeNet.Kernels;
using C = LeNet.Kernels.Cpu;
using P = LeNet.Benchmarks.Primitives;
using R = LeNet.Kernels.Reference;

namespace LeNet.Benchmarks;

/// <summary>
/// LeNet-5's two BatchNorms at batch 64: Reference vs Cpu vs Primitives, plus the fused BatchNorm–ReLU–max-pool.
/// </summary>
[MemoryDiagnoser]
public class BatchNormBenchmarks
{
    private float[] _input = [], _output = [], _outputGrad = [], _inputGrad = [], _gamma = [], _beta = [],
        _mean = [], _invStd = [],
        _runningMean = [], _runningVar = [], _gammaGrad = [], _betaGrad = [], _pooled = [], _pooledGrad = [];
    private int[] _argmax = [];
    private BatchNormShape _shape;
    private PoolShape _pool;

    /// <summary>bn1: 6 channels of 28×28; bn2: 16 channels of 10×10.</summary>
    [Params("bn1", "bn2")]
    public string Layer { get; set; } = "bn1";

    [GlobalSetup]
    public void Setup()
    {
        _pool = Layer == "bn1" ? new PoolShape(64, 6, 28, 28, 2, 2) : new PoolShape(64, 16, 10, 10, 2, 2);
        _shape = new BatchNormShape(64, _pool.Channels, _pool.Height * _pool.Width);
        var random = new Random(2);
        _input = RandomData.Values(random, _shape.Length);
        _output = new float[_shape.Length];
        _outputGrad = RandomData.Values(random, _shape.Length);
        _inputGrad = new float[_shape.Length];
        _gamma = RandomData.Values(random, _shape.Channels, 0.5f, 1.5f);
        _beta = RandomData.Values(random, _shape.Channels);
        _mean = new float[_shape.Channels];
        _invStd = new float[_shape.Channels];
        _runningMean = new float[_shape.Channels];
        _runningVar = RandomData.Values(random, _shape.Channels, 0.5f, 2);
        _gammaGrad = new float[_shape.Channels];
        _betaGrad = new float[_shape.Channels];
        _pooled = new float[_pool.OutputLength];
        _pooledGrad = RandomData.Values(random, _pool.OutputLength);
        _argmax = new int[_pool.OutputLength];
        C.BatchNorm2d.ForwardTraining(_input, _gamma, _beta, _output, _mean, _invStd, _runningMean,
            _runningVar, 0.1f, 1e-5f, _shape);
        C.BatchNorm2d.ForwardTrainingReLUMaxPool(_input, _gamma, _beta, _pooled, _argmax, _mean, _invStd, _runningMean,
            _runningVar, 0.1f, 1e-5f, _pool);
    }

    [Benchmark] public void ReferenceForwardTraining() => R.BatchNorm2d.ForwardTraining<float>(_input, _gamma, _beta,
        _output, _mean, _invStd, _runningMean, _runningVar, 0.1f, 1e-5f, _shape);
    [Benchmark] public void CpuForwardTraining() => C.BatchNorm2d.ForwardTraining(_input, _gamma, _beta, _output, _mean,
        _invStd, _runningMean, _runningVar, 0.1f, 1e-5f, _shape);
    [Benchmark] public void PrimitivesForwardTraining() => P.BatchNorm2d.ForwardTraining(_input, _gamma, _beta, _output,
        _mean, _invStd, _runningMean, _runningVar, 0.1f, 1e-5f, _shape);

    [Benchmark] public void ReferenceForwardInference() => R.BatchNorm2d.ForwardInference<float>(_input, _gamma, _beta,
        _runningMean, _runningVar, 1e-5f, _output, _shape);
    [Benchmark] public void CpuForwardInference() => C.BatchNorm2d.ForwardInference(_input, _gamma, _beta, _runningMean,
        _runningVar, 1e-5f, _output, _shape);
    [Benchmark] public void PrimitivesForwardInference() => P.BatchNorm2d.ForwardInference(_input, _gamma, _beta,
        _runningMean, _runningVar, 1e-5f, _output, _shape);

    [Benchmark] public void ReferenceBackward() => R.BatchNorm2d.Backward<float>(_outputGrad, _input, _gamma, _mean,
        _invStd, _inputGrad, _gammaGrad, _betaGrad, _shape);
    [Benchmark] public void CpuBackward() => C.BatchNorm2d.Backward(_outputGrad, _input, _gamma, _mean, _invStd,
        _inputGrad, _gammaGrad, _betaGrad, _shape);
    [Benchmark] public void PrimitivesBackward() => P.BatchNorm2d.Backward(_outputGrad, _input, _gamma, _mean, _invStd,
        _inputGrad, _gammaGrad, _betaGrad, _shape);

    /// <summary>
    /// BatchNorm, ReLU and 2×2 max pooling in one pass over the normalised values (compare with the three Cpu kernels'
    /// sum).
    /// </summary>
    [Benchmark] public void CpuForwardTrainingReLUMaxPool() => C.BatchNorm2d.ForwardTrainingReLUMaxPool(_input, _gamma,
        _beta, _pooled, _argmax, _mean, _invStd, _runningMean, _runningVar, 0.1f, 1e-5f, _pool);
    [Benchmark] public void CpuBackwardReLUMaxPool() => C.BatchNorm2d.BackwardReLUMaxPool(_pooledGrad, _argmax, _pooled,
        _input, _gamma, _mean, _invStd, _inputGrad, _gammaGrad, _betaGrad, _pool);
}
