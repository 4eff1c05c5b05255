using BenchmarkDotNet.Attributes;
using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;

namespace LeNet.Benchmarks;

/// <summary>
/// One whole training step of LeNet-5 at the seed's batch of 64 (forward, loss, backward, Adam) on random data, in a
/// workspace as the trainer runs it, on the fast CPU kernels and on the Reference kernels.
/// </summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private LeNet5 _model = null!;
    private Adam _optimizer = null!;
    private Tensor _input = null!;
    private int[] _labels = [];
    private readonly Workspace _workspace = new();

    [Params("cpu", "reference")]
    public string Kernels { get; set; } = "cpu";

    [GlobalSetup]
    public void Setup()
    {
        var device = Kernels == "cpu" ? Device.Cpu : Device.CpuReference;
        _model = new LeNet5(seed: 0);
        _model.To(device);
        _optimizer = new Adam(_model.Parameters());
        (_input, _labels) = RandomData.Batch(device, 64, seed: 2);
    }

    [Benchmark]
    public float Step()
    {
        using var scope = _workspace.Begin();
        var loss = F.CrossEntropy(_model.Forward(_input), _labels);
        _optimizer.ZeroGrad();
        loss.Backward();
        _optimizer.Step();
        return loss.Item();
    }
}
