using BenchmarkDotNet.Attributes;
using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;

namespace LeNet.Benchmarks;

/// <summary>One whole training step of LeNet-5 at batch 64 (forward, loss, backward, Adam) on random data.</summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private LeNet5 _model = null!;
    private Adam _optimizer = null!;
    private Tensor _input = null!;
    private int[] _labels = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2);
        _model = new LeNet5(seed: 0);
        _optimizer = new Adam(_model.Parameters());
        var pixels = new float[64 * 32 * 32];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
        _input = Tensor.FromArray(pixels, 64, 1, 32, 32);
        _labels = Enumerable.Range(0, 64).Select(_ => random.Next(10)).ToArray();
    }

    [Benchmark]
    public float Step()
    {
        var loss = F.CrossEntropy(_model.Forward(_input), _labels);
        _optimizer.ZeroGrad();
        loss.Backward();
        _optimizer.Step();
        return loss.Item();
    }
}
