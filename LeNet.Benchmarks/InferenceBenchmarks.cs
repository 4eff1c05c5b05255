using BenchmarkDotNet.Attributes;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Kernels;
using K = LeNet.Kernels.Cpu;

namespace LeNet.Benchmarks;

/// <summary>
/// Inference on 10,000 images (the size of MNIST's test set) in evaluation mode, in batches of 64 (the issue's
/// throughput target) and of 1,000 (what the trainer's evaluation uses). Images/s = 10,000 / the time per operation.
/// <see cref="TenThousandImages"/> is the model as a user runs it; the two kernel paths below it compute the same
/// forward straight on the Cpu kernels, side by side, to time what folding BatchNorm into the convolution changes:
/// <see cref="Unfolded"/> is the convolution block as evaluation ran it before (the convolution into an [N, K, P, Q]
/// tensor, then the fused BatchNorm-ReLU-MaxPool pass), <see cref="Folded"/> the folded per-image block. The head
/// (fc + ReLU, fc1 + ReLU, fc2) is the same in both.
/// </summary>
[MemoryDiagnoser]
public class InferenceBenchmarks
{
    private const int Images = 10_000;
    private LeNet5 _model = null!;
    private Tensor[] _batches = [];
    private float[][] _pixels = [];
    private readonly Workspace _workspace = new();
    private float[] _conv1 = [], _pooled1 = [], _conv2 = [], _pooled2 = [], _hidden = [], _hidden1 = [], _logits = [];
    private int[] _argmax1 = [], _argmax2 = [];

    [Params(64, 1000)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = new LeNet5(seed: 0);
        _model.Eval();
        var random = new Random(3);
        _pixels = Enumerable.Range(0, (Images + BatchSize - 1) / BatchSize).Select(b =>
            RandomData.Values(random, Math.Min(BatchSize, Images - b * BatchSize) * 32 * 32)).ToArray();
        _batches = _pixels.Select(p => Tensor.FromArray(p, p.Length / (32 * 32), 1, 32, 32)).ToArray();
        _conv1 = new float[BatchSize * 6 * 28 * 28];
        _pooled1 = new float[BatchSize * 6 * 14 * 14];
        _argmax1 = new int[_pooled1.Length];
        _conv2 = new float[BatchSize * 16 * 10 * 10];
        _pooled2 = new float[BatchSize * 400];
        _argmax2 = new int[_pooled2.Length];
        _hidden = new float[BatchSize * 120];
        _hidden1 = new float[BatchSize * 84];
        _logits = new float[BatchSize * 10];
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

    [Benchmark(OperationsPerInvoke = Images, Baseline = true)]
    public float Unfolded() => Kernels(folded: false);

    [Benchmark(OperationsPerInvoke = Images)]
    public float Folded() => Kernels(folded: true);

    private float Kernels(bool folded)
    {
        var sum = 0f;
        foreach (var pixels in _pixels)
        {
            int n = pixels.Length / (32 * 32);
            Block(pixels, _model.Layer1, new ConvShape(n, 1, 32, 32, 6, 5, 5), _conv1, _pooled1, _argmax1, folded);
            Block(_pooled1.AsSpan(0, n * 6 * 14 * 14), _model.Layer2, new ConvShape(n, 6, 14, 14, 16, 5, 5),
                _conv2, _pooled2, _argmax2, folded);
            Linear(_pooled2.AsSpan(0, n * 400), _model.Fc, _hidden.AsSpan(0, n * 120),
                new LinearShape(n, 400, 120), relu: true);
            Linear(_hidden.AsSpan(0, n * 120), _model.Fc1, _hidden1.AsSpan(0, n * 84),
                new LinearShape(n, 120, 84), relu: true);
            Linear(_hidden1.AsSpan(0, n * 84), _model.Fc2, _logits.AsSpan(0, n * 10),
                new LinearShape(n, 84, 10), relu: false);
            sum += _logits[0];
        }
        return sum;
    }

    private static void Block(ReadOnlySpan<float> input, ConvBlock block, ConvShape shape, float[] conv,
        float[] pooled, int[] argmax, bool folded)
    {
        var (norm, pooledLength) = (block.Norm,
            shape.Batch * shape.OutChannels * (shape.OutHeight / 2) * (shape.OutWidth / 2));
        if (folded)
        {
            K.Conv2d.ForwardBatchNormReLUMaxPool(input, block.Conv.Weight.AsSpan(), block.Conv.Bias!.AsSpan(),
                norm.Weight.AsSpan(), norm.Bias.AsSpan(), norm.RunningMean.AsSpan(), norm.RunningVar.AsSpan(),
                norm.Eps, pooled.AsSpan(0, pooledLength), shape, 2);
            return;
        }
        var convOutput = conv.AsSpan(0, shape.OutputLength);
        K.Conv2d.Forward(input, block.Conv.Weight.AsSpan(), block.Conv.Bias!.AsSpan(), convOutput, shape);
        K.BatchNorm2d.ForwardInferenceReLUMaxPool(convOutput, norm.Weight.AsSpan(), norm.Bias.AsSpan(),
            norm.RunningMean.AsSpan(),
            norm.RunningVar.AsSpan(), norm.Eps, pooled.AsSpan(0, pooledLength), argmax.AsSpan(0, pooledLength),
            new PoolShape(shape.Batch, shape.OutChannels, shape.OutHeight, shape.OutWidth, 2, 2));
    }

    private static void Linear(ReadOnlySpan<float> input, Linear layer, Span<float> output,
        LinearShape shape, bool relu)
    {
        K.Linear.Forward(input, layer.Weight.AsSpan(), layer.Bias!.AsSpan(), output, shape);
        if (relu) K.ReLU.Forward(output, output);
    }
}
