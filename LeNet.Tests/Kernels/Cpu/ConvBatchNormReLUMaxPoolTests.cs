using System.Runtime.Intrinsics;
using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using Fast = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// The evaluation-mode convolution block (BatchNorm folded into the convolution, conv + ReLU + max-pool per image)
/// against the composition of the Reference Conv2d, BatchNorm2d (evaluation), ReLU and MaxPool2d kernels in double, at
/// every vector width and on every convolution engine, and against the unfused Cpu kernels it replaces.
/// </summary>
public class ConvBatchNormReLUMaxPoolTests
{
    private const float Eps = 1e-5f;

    // LeNet's two blocks, odd sizes whose last row/column no window covers, pooled rows shorter and longer than a
    // vector (with an overlapping last chunk), padding, 20 channels (two vectors of lanes at 256 bits), 3×3 windows,
    // stride 2 (im2col), no bias.
    private static readonly (ConvShape Conv, int Window, bool Bias)[] Shapes =
    [
        (new(5, 1, 32, 32, 6, 5, 5), 2, true),
        (new(3, 6, 14, 14, 16, 5, 5), 2, true),
        (new(2, 3, 9, 11, 5, 3, 3, Padding: 1), 2, true),
        (new(1, 2, 12, 40, 7, 3, 3), 2, true),
        (new(2, 4, 13, 17, 20, 3, 3, Padding: 1), 2, false),
        (new(2, 2, 11, 11, 3, 3, 3, Padding: 1), 3, true),
        (new(3, 3, 9, 7, 5, 3, 3, Stride: 2, Padding: 1), 2, true),
        (new(1, 1, 6, 6, 1, 2, 2), 5, true),
    ];

    public static TheoryData<int, string, int> WidthsEnginesAndShapes()
    {
        var data = new TheoryData<int, string, int>();
        foreach (int width in new[] { 512, 256, 128 })
            foreach (var engine in new[] { "Auto", "Lanes", "Gemm", "Rows", "Im2Col" })
                for (int s = 0; s < Shapes.Length; s++)
                    data.Add(width, engine, s);
        return data;
    }

    private sealed class Case
    {
        public required float[] Input, Weight, Bias, Gamma, Beta, RunningMean, RunningVar;
    }

    private static Case Draw(ConvShape shape, bool withBias, int seed)
    {
        var rng = new Random(seed);
        int K = shape.OutChannels;
        return new Case
        {
            Input = UniformFloat(rng, shape.InputLength),
            Weight = UniformFloat(rng, shape.WeightLength),
            Bias = withBias ? UniformFloat(rng, K) : [],
            // Negative scales too: folding must not assume that BatchNorm preserves the order the pooling picks from.
            Gamma = UniformFloat(rng, K, -1.5, 1.5),
            Beta = UniformFloat(rng, K, -0.5, 0.5),
            RunningMean = UniformFloat(rng, K, -0.5, 0.5),
            RunningVar = UniformFloat(rng, K, 0.2, 3),
        };
    }

    /// <summary>Conv2d → BatchNorm2d (evaluation) → ReLU → MaxPool2d with the Reference kernels, in double.</summary>
    private static double[] ReferenceBlock(Case data, ConvShape shape, int window)
    {
        int K = shape.OutChannels;
        var conv = new double[shape.OutputLength];
        Ref.Conv2d.Forward<double>(Exactly(data.Input), Exactly(data.Weight), Exactly(data.Bias), conv, shape);
        var norm = new double[conv.Length];
        Ref.BatchNorm2d.ForwardInference<double>(conv, Exactly(data.Gamma), Exactly(data.Beta),
            Exactly(data.RunningMean), Exactly(data.RunningVar), Eps, norm,
            new BatchNormShape(shape.Batch, K, shape.OutHeight * shape.OutWidth));
        var activated = new double[conv.Length];
        Ref.ReLU.Forward<double>(norm, activated);
        var pool = Pool(shape, window);
        var pooled = new double[pool.OutputLength];
        Ref.MaxPool2d.Forward<double>(activated, pooled, new int[pool.OutputLength], pool);
        return pooled;
    }

    private static PoolShape Pool(ConvShape shape, int window) =>
        new(shape.Batch, shape.OutChannels, shape.OutHeight, shape.OutWidth, window, window);

    private static void Fused(int width, string engine, Case data, ConvShape shape, int window, float[] pooled)
    {
        var which = Enum.Parse<Fast.Conv2d.Engine>(engine);
        switch (width)
        {
            case 512:
                Fast.Conv2d.ForwardBatchNormReLUMaxPool<Vector512<float>>(data.Input, data.Weight, data.Bias,
                    data.Gamma, data.Beta, data.RunningMean, data.RunningVar, Eps, pooled, shape, window, which);
                break;
            case 256:
                Fast.Conv2d.ForwardBatchNormReLUMaxPool<Vector256<float>>(data.Input, data.Weight, data.Bias,
                    data.Gamma, data.Beta, data.RunningMean, data.RunningVar, Eps, pooled, shape, window, which);
                break;
            default:
                Fast.Conv2d.ForwardBatchNormReLUMaxPool<Vector128<float>>(data.Input, data.Weight, data.Bias,
                    data.Gamma, data.Beta, data.RunningMean, data.RunningVar, Eps, pooled, shape, window, which);
                break;
        }
    }

    [Theory]
    [MemberData(nameof(WidthsEnginesAndShapes))]
    public void Matches_the_composition_of_reference_kernels(int width, string engine, int shapeIndex) =>
        // The pooling's width follows the thread's override (0: the widest), the convolution's the type argument.
        AtWidth(width == 512 ? 0 : width, () =>
        {
            var (shape, window, withBias) = Shapes[shapeIndex];
            var data = Draw(shape, withBias, 20_000 + shapeIndex);
            var expected = ReferenceBlock(data, shape, window);
            // Overwrites: the output starts as garbage.
            var pooled = UniformFloat(new Random(7), expected.Length, 5, 9);
            Fused(width, engine, data, shape, window, pooled);
            AssertAgrees(expected, pooled, $"{shape} window {window}, {engine} at {width} bits");
            // ReLU's zeros are exact in both, so a value that should be zero and is not (or the reverse) is no
            // rounding.
            for (int i = 0; i < expected.Length; i++)
                if (expected[i] == 0 || pooled[i] == 0)
                    Assert.True(Math.Abs(expected[i] - pooled[i]) < 1e-5,
                        $"output {i}: {pooled[i]} where the Reference has {expected[i]}.");
        });

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Agrees_with_the_unfused_cpu_kernels_up_to_rounding(int shapeIndex)
    {
        var (shape, window, withBias) = Shapes[shapeIndex];
        var data = Draw(shape, withBias, 30_000 + shapeIndex);
        var pool = Pool(shape, window);
        var conv = new float[shape.OutputLength];
        Fast.Conv2d.Forward(data.Input, data.Weight, data.Bias, conv, shape);
        var unfused = new float[pool.OutputLength];
        Fast.BatchNorm2d.ForwardInferenceReLUMaxPool(conv, data.Gamma, data.Beta, data.RunningMean, data.RunningVar,
            Eps, unfused, new int[pool.OutputLength], pool);
        var fused = new float[pool.OutputLength];
        Fast.Conv2d.ForwardBatchNormReLUMaxPool(data.Input, data.Weight, data.Bias, data.Gamma, data.Beta,
            data.RunningMean, data.RunningVar, Eps, fused, shape, window);
        double scale = unfused.Max(Math.Abs);
        for (int i = 0; i < fused.Length; i++)
            Assert.True(Math.Abs(fused[i] - unfused[i]) <= 1e-5 * scale,
                $"output {i}: fused {fused[i]}, unfused {unfused[i]}.");
    }

    /// <summary>
    /// The lanes engine pools from its channels-last tiles and the GEMM engine from its rows as they are (Wp apart),
    /// both adding the bias after the max, and the rows engine from a compacted convolution: the same bits as the
    /// engine's own convolution (with the folded weights and bias) followed by ReLU and max pooling, at every width.
    /// </summary>
    [Theory]
    [InlineData(512, "Lanes")]
    [InlineData(256, "Lanes")]
    [InlineData(128, "Lanes")]
    [InlineData(512, "Gemm")]
    [InlineData(256, "Gemm")]
    [InlineData(128, "Gemm")]
    [InlineData(512, "Rows")]
    [InlineData(256, "Rows")]
    [InlineData(128, "Rows")]
    public void Each_engine_gives_the_bits_of_its_convolution_then_ReLU_and_pooling(int width, string engine) =>
        AtWidth(width == 512 ? 0 : width, () =>
    {
        // LeNet's blocks, odd sizes with padding (an odd last row and column no window covers), a row shorter than a
        // vector, two vectors of channels, windows of 3 and 5 (pooled the planar way).
        foreach (int shapeIndex in new[] { 0, 1, 2, 3, 4, 5, 7 })
        {
            var (shape, window, withBias) = Shapes[shapeIndex];
            var data = Draw(shape, withBias, 40_000 + shapeIndex);
            int K = shape.OutChannels, taps = shape.InChannels * shape.KernelHeight * shape.KernelWidth;
            // The folding exactly as the kernel does it.
            var weight = new float[shape.WeightLength];
            var bias = new float[K];
            for (int k = 0; k < K; k++)
            {
                float scale = data.Gamma[k] * (float)(1 / Math.Sqrt((double)data.RunningVar[k] + Eps));
                for (int t = 0; t < taps; t++) weight[k * taps + t] = data.Weight[k * taps + t] * scale;
                bias[k] = MathF.FusedMultiplyAdd((withBias ? data.Bias[k] : 0) - data.RunningMean[k], scale,
                    data.Beta[k]);
            }
            var conv = new float[shape.OutputLength];
            var pooled = new float[Pool(shape, window).OutputLength];
            var which = Enum.Parse<Fast.Conv2d.Engine>(engine);
            switch (width)
            {
                case 512:
                    Fast.Conv2d.Forward<Vector512<float>>(data.Input, weight, bias, conv, shape, which);
                    Fast.Conv2d.ForwardBatchNormReLUMaxPool<Vector512<float>>(data.Input, data.Weight, data.Bias,
                        data.Gamma, data.Beta, data.RunningMean, data.RunningVar, Eps, pooled, shape, window, which);
                    break;
                case 256:
                    Fast.Conv2d.Forward<Vector256<float>>(data.Input, weight, bias, conv, shape, which);
                    Fast.Conv2d.ForwardBatchNormReLUMaxPool<Vector256<float>>(data.Input, data.Weight, data.Bias,
                        data.Gamma, data.Beta, data.RunningMean, data.RunningVar, Eps, pooled, shape, window, which);
                    break;
                default:
                    Fast.Conv2d.Forward<Vector128<float>>(data.Input, weight, bias, conv, shape, which);
                    Fast.Conv2d.ForwardBatchNormReLUMaxPool<Vector128<float>>(data.Input, data.Weight, data.Bias,
                        data.Gamma, data.Beta, data.RunningMean, data.RunningVar, Eps, pooled, shape, window, which);
                    break;
            }
            int P = shape.OutHeight, Q = shape.OutWidth, pooledHeight = P / window, pooledWidth = Q / window;
            for (int plane = 0; plane < shape.Batch * K; plane++)
            for (int i = 0; i < pooledHeight; i++)
            for (int j = 0; j < pooledWidth; j++)
            {
                float max = conv[(plane * P + i * window) * Q + j * window];
                for (int r = 0; r < window; r++)
                for (int t = 0; t < window; t++)
                    if (conv[(plane * P + i * window + r) * Q + j * window + t] > max)
                        max = conv[(plane * P + i * window + r) * Q + j * window + t];
                float expected = max < 0 ? 0 : max, actual = pooled[(plane * pooledHeight + i) * pooledWidth + j];
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
                    $"{shape} window {window} at {width} bits, plane {plane} ({i}, {j}): {actual} where the " +
                        $"convolution then ReLU and pooling give {expected}.");
            }
        }
    });

    [Fact]
    public void Refuses_a_window_larger_than_the_output() =>
        Assert.Throws<ArgumentException>(() => Fast.Conv2d.ForwardBatchNormReLUMaxPool(new float[36], new float[4], [],
            [1], [0], [0], [1], Eps, new float[1], new ConvShape(1, 1, 6, 6, 1, 2, 2), 6));
}
