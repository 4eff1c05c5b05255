using BenchmarkDotNet.Attributes;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;

namespace LeNet.Benchmarks;

/// <summary>
/// Inference on 10,000 images (the size of MNIST's test set) in evaluation mode, in batches of 64 (the issue's
/// throughput target) and of 1,000 (what the trainer's evaluation uses). Images/s = 10,000 / the time per operation.
/// </summary>
[MemoryDiagnoser]
public class InferenceBenchmarks
{
    private const int Images = 10_000;
    private LeNet5 _model = null!;
    private Tensor[] _batches = [];
    private readonly Workspace _workspace = new();

    [Params(64, 1000)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = new LeNet5(seed: 0);
        _model.Eval();
        var random = new Random(3);
        _batches = Enumerable.Range(0, (Images + BatchSize - 1) / BatchSize).Select(b =>
        {
            var count = Math.Min(BatchSize, Images - b * BatchSize);
            return Tensor.FromArray(RandomData.Values(random, count * 32 * 32), count, 1, 32, 32);
        }).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Images)]
    public float TenThousandImages()
    {
        var sum = 0f;
        using var noGrad = GradientTape.NoGrad();
        foreach (var batch in _batches)
        {
            using var scope = _workspace.Begin();
            sum += _model.Forward(batch).AsSpan()[0];
        }
        return sum;
    }
}
