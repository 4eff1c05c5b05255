using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Core.Training;

namespace LeNet.Benchmarks;

/// <summary>
/// One epoch of the seed recipe's shape: 938 steps of batch 64 (60,000 images, the last batch 32) of LeNet-5 with
/// Adam on the fast CPU kernels, through the trainer's <see cref="TrainingStep"/>, random data held in memory.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class EpochBenchmarks
{
    private const int Images = 60_000, BatchSize = 64;
    private TrainingStep _step = null!;
    private int[] _order = [];

    [GlobalSetup]
    public void Setup()
    {
        var model = new LeNet5(seed: 0);
        var random = new Random(10);
        var data = BatchSource.Create(Device.Cpu, RandomData.Values(random, Images * 32 * 32),
            Enumerable.Range(0, Images).Select(_ => random.Next(10)).ToArray(), 1, 32, 32);
        _step = TrainingStep.Create(model, new Adam(model.Parameters()), data, BatchSize);
        _order = Enumerable.Range(0, Images).ToArray();
    }

    [Benchmark]
    public float Epoch()
    {
        _step.StartEpoch(_order);
        while (_step.Step < _step.StepsPerEpoch) _step.Run();
        return _step.ReadLosses()[^1];
    }
}
