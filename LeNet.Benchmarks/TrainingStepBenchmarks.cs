using BenchmarkDotNet.Attributes;
using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Core.Training;

namespace LeNet.Benchmarks;

/// <summary>
/// One whole training step of LeNet-5 at the seed's batch of 64 (the batch copied in, forward, loss, backward, Adam) on
/// random data: the trainer's <see cref="Core.Training.TrainingStep"/>, on the fast CPU kernels and on the Reference
/// kernels.
/// </summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private const int Images = 64 * 16;
    private TrainingStep _step = null!;
    private int[] _order = [];

    [Params("cpu", "reference")]
    public string Kernels { get; set; } = "cpu";

    [GlobalSetup]
    public void Setup()
    {
        var device = Kernels == "cpu" ? Device.Cpu : Device.CpuReference;
        var model = new LeNet5(seed: 0).To(device);
        var random = new Random(2);
        var data = BatchSource.Create(device, RandomData.Values(random, Images * 32 * 32),
            Enumerable.Range(0, Images).Select(_ => random.Next(10)).ToArray(), 1, 32, 32);
        _step = TrainingStep.Create(model, new Adam(model.Parameters()), data, batchSize: 64);
        _order = Enumerable.Range(0, Images).ToArray();
        _step.StartEpoch(_order);
    }

    [Benchmark]
    public float Step()
    {
        if (_step.Step == _step.StepsPerEpoch) _step.StartEpoch(_order);
        _step.Run();
        return _step.ReadLosses()[^1];
    }
}
