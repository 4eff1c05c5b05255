using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;

namespace LeNet.Benchmarks;

/// <summary>
/// One epoch of the seed recipe's shape: 938 steps of batch 64 (60,000 images, the last batch 32) of LeNet-5 with
/// Adam on the fast CPU kernels, random data held in memory (the trainer's batch gathering is a memory copy).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class EpochBenchmarks
{
    private const int Images = 60_000, BatchSize = 64;
    private LeNet5 _model = null!;
    private Adam _optimizer = null!;
    private (Tensor Images, int[] Labels)[] _batches = [];
    private readonly Workspace _workspace = new();

    [GlobalSetup]
    public void Setup()
    {
        _model = new LeNet5(seed: 0);
        _optimizer = new Adam(_model.Parameters());
        // 16 distinct batches reused round-robin: the kernels see the same shapes and sizes as with MNIST.
        var distinct = Enumerable.Range(0, 16).Select(i => RandomData.Batch(Device.Cpu, BatchSize, seed: 10 + i)).ToArray();
        var last = RandomData.Batch(Device.Cpu, Images % BatchSize, seed: 9);
        _batches = Enumerable.Range(0, Images / BatchSize).Select(i => distinct[i % distinct.Length]).Append(last).ToArray();
    }

    [Benchmark]
    public float Epoch()
    {
        var loss = 0f;
        foreach (var (images, labels) in _batches)
        {
            using var scope = _workspace.Begin();
            var output = F.CrossEntropy(_model.Forward(images), labels);
            _optimizer.ZeroGrad();
            output.Backward();
            _optimizer.Step();
            loss = output.Item();
        }
        return loss;
    }
}
