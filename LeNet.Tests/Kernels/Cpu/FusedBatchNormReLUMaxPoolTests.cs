using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using CpuKernels = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// The fused BatchNorm → ReLU → max-pool kernels against the composition of the three Reference kernels in double,
/// and bit for bit against the composition of the three Cpu kernels.
/// </summary>
public class FusedBatchNormReLUMaxPoolTests
{
    private const float Momentum = 0.1f, Eps = 1e-5f;

    // LeNet's two blocks at batch 64, odd sizes whose last row/column no window covers, short rows, a batch of 1000,
    // 3×3 windows.
    private static readonly PoolShape[] Shapes =
    [
        new(1, 2, 5, 5, 2, 2), new(3, 2, 7, 9, 2, 2), new(2, 3, 9, 35, 2, 2), new(64, 6, 28, 28, 2, 2),
        new(64, 16, 10, 10, 2, 2), new(1000, 2, 5, 4, 2, 2), new(2, 3, 10, 11, 3, 3),
    ];

    public static TheoryData<int, int> WidthsAndShapes()
    {
        var data = new TheoryData<int, int>();
        foreach (int width in new[] { 0, 256, 128 })
            for (int s = 0; s < Shapes.Length; s++)
                data.Add(width, s);
        return data;
    }

    private sealed class Case
    {
        public required float[] Input, Gamma, Beta, RunningMean, RunningVar;
    }

    private static Case Draw(PoolShape shape, int seed)
    {
        var rng = new Random(seed);
        return new Case
        {
            Input = UniformFloat(rng, shape.InputLength, -2, 3),
            Gamma = UniformFloat(rng, shape.Channels, 0.5, 1.5),
            Beta = UniformFloat(rng, shape.Channels, -0.5, 0.5),
            RunningMean = UniformFloat(rng, shape.Channels),
            RunningVar = UniformFloat(rng, shape.Channels, 0.5, 2),
        };
    }

    private static BatchNormShape Norm(PoolShape shape) => new(shape.Batch, shape.Channels, shape.Height * shape.Width);

    /// <summary>
    /// Argmax must match the Reference's, except where float rounding of the normalised values reorders two that are
    /// equal to within that rounding: there the chosen one must be a maximum of the double values too.
    /// </summary>
    private static void AssertArgmaxAgrees(int[] expected, int[] actual, double[] reluOutput, string what)
    {
        int differing = 0;
        for (int o = 0; o < expected.Length; o++)
        {
            if (expected[o] == actual[o]) continue;
            differing++;
            double best = reluOutput[expected[o]], chosen = reluOutput[actual[o]];
            Assert.True(Math.Abs(best - chosen) <= 1e-5 * Math.Max(1, Math.Abs(best)),
                $"{what}: output {o} points at {actual[o]} (value {chosen}), the Reference at " +
                    $"{expected[o]} (value {best}).");
        }
        Assert.True(differing <= expected.Length / 1000,
            $"{what}: {differing} of {expected.Length} argmax indices differ; only rare near-ties may.");
    }

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Training_forward_matches_the_composition_of_reference_kernels(int width, int shapeIndex) =>
        AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var norm = Norm(shape);
        var data = Draw(shape, 10_000 + shapeIndex);
        int C = shape.Channels;

        var pooled = new float[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        var mean = new float[C];
        var invStd = new float[C];
        var runningMean = (float[])data.RunningMean.Clone();
        var runningVar = (float[])data.RunningVar.Clone();
        CpuKernels.BatchNorm2d.ForwardTrainingReLUMaxPool(data.Input, data.Gamma, data.Beta, pooled, argmax, mean,
            invStd, runningMean, runningVar, Momentum, Eps, shape);

        var normalized = new double[shape.InputLength];
        var expectedMean = new double[C];
        var expectedInvStd = new double[C];
        var expectedRunningMean = Exactly(data.RunningMean);
        var expectedRunningVar = Exactly(data.RunningVar);
        Ref.BatchNorm2d.ForwardTraining<double>(Exactly(data.Input), Exactly(data.Gamma), Exactly(data.Beta),
            normalized, expectedMean, expectedInvStd, expectedRunningMean, expectedRunningVar, Momentum, Eps, norm);
        var relu = new double[shape.InputLength];
        Ref.ReLU.Forward<double>(normalized, relu);
        var expectedPooled = new double[shape.OutputLength];
        var expectedArgmax = new int[shape.OutputLength];
        Ref.MaxPool2d.Forward<double>(relu, expectedPooled, expectedArgmax, shape);

        AssertAgrees(expectedPooled, pooled, $"pooled output {shape}");
        AssertArgmaxAgrees(expectedArgmax, argmax, relu, $"argmax {shape}");
        AssertAgrees(expectedMean, mean, $"batch mean {shape}");
        AssertAgrees(expectedInvStd, invStd, $"inverse std {shape}");
        AssertAgrees(expectedRunningMean, runningMean, $"running mean {shape}");
        AssertAgrees(expectedRunningVar, runningVar, $"running variance {shape}");

        // Bit for bit what the three Cpu kernels give in turn.
        var cpuNormalized = new float[shape.InputLength];
        var cpuStats = new float[4 * C];
        Array.Copy(data.RunningMean, 0, cpuStats, 2 * C, C);
        Array.Copy(data.RunningVar, 0, cpuStats, 3 * C, C);
        CpuKernels.BatchNorm2d.ForwardTraining(data.Input, data.Gamma, data.Beta, cpuNormalized, cpuStats.AsSpan(0, C),
            cpuStats.AsSpan(C, C), cpuStats.AsSpan(2 * C, C), cpuStats.AsSpan(3 * C, C), Momentum, Eps, norm);
        CpuKernels.ReLU.Forward(cpuNormalized, cpuNormalized);
        var cpuPooled = new float[shape.OutputLength];
        var cpuArgmax = new int[shape.OutputLength];
        CpuKernels.MaxPool2d.Forward(cpuNormalized, cpuPooled, cpuArgmax, shape);
        Assert.Equal(cpuPooled, pooled);
        Assert.Equal(cpuArgmax, argmax);
        Assert.Equal(cpuStats, (float[])[.. mean, .. invStd, .. runningMean, .. runningVar]);
    });

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Inference_forward_matches_the_composition_of_reference_kernels(int width, int shapeIndex) =>
        AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var norm = Norm(shape);
        var data = Draw(shape, 10_100 + shapeIndex);

        var pooled = new float[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        CpuKernels.BatchNorm2d.ForwardInferenceReLUMaxPool(data.Input, data.Gamma, data.Beta, data.RunningMean,
            data.RunningVar, Eps, pooled, argmax, shape);

        var normalized = new double[shape.InputLength];
        Ref.BatchNorm2d.ForwardInference<double>(Exactly(data.Input), Exactly(data.Gamma), Exactly(data.Beta),
            Exactly(data.RunningMean), Exactly(data.RunningVar), Eps, normalized, norm);
        var relu = new double[shape.InputLength];
        Ref.ReLU.Forward<double>(normalized, relu);
        var expectedPooled = new double[shape.OutputLength];
        var expectedArgmax = new int[shape.OutputLength];
        Ref.MaxPool2d.Forward<double>(relu, expectedPooled, expectedArgmax, shape);
        AssertAgrees(expectedPooled, pooled, $"pooled output {shape}");
        AssertArgmaxAgrees(expectedArgmax, argmax, relu, $"argmax {shape}");

        var cpuNormalized = new float[shape.InputLength];
        CpuKernels.BatchNorm2d.ForwardInference(data.Input, data.Gamma, data.Beta, data.RunningMean, data.RunningVar,
            Eps, cpuNormalized, norm);
        CpuKernels.ReLU.Forward(cpuNormalized, cpuNormalized);
        var cpuPooled = new float[shape.OutputLength];
        var cpuArgmax = new int[shape.OutputLength];
        CpuKernels.MaxPool2d.Forward(cpuNormalized, cpuPooled, cpuArgmax, shape);
        Assert.Equal(cpuPooled, pooled);
        Assert.Equal(cpuArgmax, argmax);
    });

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Backward_accumulates_what_the_composition_of_reference_backwards_gives(int width, int shapeIndex) =>
        CheckBackward(width, shapeIndex, accumulateInputGrad: true);

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Backward_without_accumulation_overwrites_whatever_the_input_gradient_held(int width, int shapeIndex) =>
        CheckBackward(width, shapeIndex, accumulateInputGrad: false);

    private static void CheckBackward(int width, int shapeIndex, bool accumulateInputGrad) => AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var norm = Norm(shape);
        var data = Draw(shape, 10_200 + shapeIndex);
        int C = shape.Channels;

        // The Reference forward in double; its saved state (in float) is what the fused backward is given.
        var input = Exactly(data.Input);
        var gamma = Exactly(data.Gamma);
        var normalized = new double[shape.InputLength];
        var mean = new double[C];
        var invStd = new double[C];
        Ref.BatchNorm2d.ForwardTraining<double>(input, gamma, Exactly(data.Beta), normalized, mean, invStd,
            new double[C], new double[C], Momentum, Eps, norm);
        var relu = new double[shape.InputLength];
        Ref.ReLU.Forward<double>(normalized, relu);
        var pooled = new double[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        Ref.MaxPool2d.Forward<double>(relu, pooled, argmax, shape);

        var rng = new Random(10_250 + shapeIndex);
        var pooledGrad = UniformFloat(rng, shape.OutputLength);
        var inputGrad = UniformFloat(rng, shape.InputLength);
        var gammaGrad = UniformFloat(rng, C);
        var betaGrad = UniformFloat(rng, C);
        // Overwritten: the expected input gradient starts at zero, and what the buffer held (NaN here) must not show.
        var expectedInputGrad = accumulateInputGrad ? Exactly(inputGrad) : new double[shape.InputLength];
        if (!accumulateInputGrad) Array.Fill(inputGrad, float.NaN);
        var expectedGammaGrad = Exactly(gammaGrad);
        var expectedBetaGrad = Exactly(betaGrad);

        CpuKernels.BatchNorm2d.BackwardReLUMaxPool(pooledGrad, argmax, ToFloat(pooled), data.Input, data.Gamma,
            ToFloat(mean), ToFloat(invStd), inputGrad, gammaGrad, betaGrad, shape, accumulateInputGrad);

        var reluGrad = new double[shape.InputLength];
        Ref.MaxPool2d.Backward<double>(Exactly(pooledGrad), argmax, reluGrad, shape);
        var normalizedGrad = new double[shape.InputLength];
        Ref.ReLU.Backward<double>(normalized, reluGrad, normalizedGrad);
        Ref.BatchNorm2d.Backward<double>(normalizedGrad, input, gamma, Exactly(ToFloat(mean)), Exactly(ToFloat(invStd)),
            expectedInputGrad, expectedGammaGrad, expectedBetaGrad, norm);

        AssertAgrees(expectedInputGrad, inputGrad, $"input gradient {shape}");
        AssertAgrees(expectedGammaGrad, gammaGrad, $"gamma gradient {shape}");
        AssertAgrees(expectedBetaGrad, betaGrad, $"beta gradient {shape}");
    });

    /// <summary>The backward's gradient sums run as vector lanes with a gather at 256 and 512 bits and as scalar chains
    /// at 128: the same operations in the same order, so the same bits.</summary>
    [Fact]
    public void Backward_gives_the_same_bits_at_every_width()
    {
        var shape = new PoolShape(5, 6, 28, 28, 2, 2);
        var rng = new Random(10_280);
        var input = UniformFloat(rng, shape.InputLength, -2, 3);
        var gamma = UniformFloat(rng, 6, 0.5, 1.5);
        var beta = UniformFloat(rng, 6);
        var pooledGrad = UniformFloat(rng, shape.OutputLength);
        var pooled = new float[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        var stats = new float[24];
        CpuKernels.BatchNorm2d.ForwardTrainingReLUMaxPool(input, gamma, beta, pooled, argmax, stats.AsSpan(0, 6),
            stats.AsSpan(6, 6), stats.AsSpan(12, 6), stats.AsSpan(18, 6), 0.1f, 1e-5f, shape);
        float[] Backward(int width)
        {
            var grads = new float[shape.InputLength + 12];
            AtWidth(width, () => CpuKernels.BatchNorm2d.BackwardReLUMaxPool(pooledGrad, argmax, pooled, input, gamma,
                stats.AsSpan(0, 6), stats.AsSpan(6, 6), grads.AsSpan(0, shape.InputLength),
                grads.AsSpan(shape.InputLength, 6), grads.AsSpan(shape.InputLength + 6, 6), shape,
                accumulateInputGrad: false));
            return grads;
        }
        var scalar = Backward(128);
        Assert.Equal(scalar, Backward(256));
        Assert.Equal(scalar, Backward(0));
    }

    /// <summary>The direct term (scale·dy added at each window's winner) runs as vector masks over 2×2 windows; it must
    /// give the scalar scatter's bits: rows whose last vector overlaps, odd sizes, both modes, and a row whose argmax
    /// points elsewhere in the plane (left to the scalar loop).</summary>
    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void The_vector_direct_term_gives_the_scalar_scatters_bits(int width)
    {
        PoolShape[] shapes =
        [
            // Pooled rows of 14 (LeNet's bn1), 8, 10 with an odd row and column left over, 17 and 18; rows under 8
            // outputs (bn2's 5) stay scalar.
            new(3, 2, 28, 28, 2, 2), new(2, 3, 16, 16, 2, 2), new(2, 2, 19, 21, 2, 2), new(1, 2, 34, 34, 2, 2),
            new(1, 1, 32, 36, 2, 2), new(2, 1, 10, 10, 2, 2),
        ];
        foreach (var shape in shapes)
        foreach (var accumulate in new[] { false, true })
        {
            var rng = new Random(10_290 + shape.Width);
            var input = UniformFloat(rng, shape.InputLength, -2, 3);
            var gamma = UniformFloat(rng, shape.Channels, 0.5, 1.5);
            var beta = UniformFloat(rng, shape.Channels);
            var pooledGrad = UniformFloat(rng, shape.OutputLength);
            var start = UniformFloat(rng, shape.InputLength);
            var pooled = new float[shape.OutputLength];
            var argmax = new int[shape.OutputLength];
            var stats = new float[4 * shape.Channels];
            var c = shape.Channels;
            CpuKernels.BatchNorm2d.ForwardTrainingReLUMaxPool(input, gamma, beta, pooled, argmax, stats.AsSpan(0, c),
                stats.AsSpan(c, c), stats.AsSpan(2 * c, c), stats.AsSpan(3 * c, c), 0.1f, 1e-5f, shape);
            // Output 1 of plane 0 points at its neighbour's window: valid for the scalar loop, not a window's own;
            // so does the last output of the second row, which a row's later vector meets.
            argmax[1] = argmax[0];
            var pooledWidth = shape.OutWidth;
            argmax[2 * pooledWidth - 1] = argmax[2 * pooledWidth - 2];
            float[] Backward(bool scalar)
            {
                var grads = new float[shape.InputLength + 2 * c];
                start.CopyTo(grads, 0);
                AtWidth(width, () =>
                {
                    CpuKernels.BatchNorm2d.ScalarDirectTerm = scalar;
                    try
                    {
                        CpuKernels.BatchNorm2d.BackwardReLUMaxPool(pooledGrad, argmax, pooled, input, gamma,
                            stats.AsSpan(0, c), stats.AsSpan(c, c), grads.AsSpan(0, shape.InputLength),
                            grads.AsSpan(shape.InputLength, c), grads.AsSpan(shape.InputLength + c, c), shape,
                            accumulate);
                    }
                    finally { CpuKernels.BatchNorm2d.ScalarDirectTerm = false; }
                });
                return grads;
            }
            var expected = Backward(scalar: true);
            Assert.True(expected.AsSpan(0, shape.InputLength).ToArray().Any(g => g != 0), $"{shape}: no gradient");
            Assert.Equal(expected, Backward(scalar: false));
        }
    }

    [Fact]
    public void Overlapping_windows_and_bad_argmax_are_rejected()
    {
        var overlapping = new PoolShape(1, 1, 5, 5, 3, 2);
        Assert.Throws<ArgumentException>(() => CpuKernels.BatchNorm2d.ForwardInferenceReLUMaxPool(new float[25], [1],
            [0], [0], [1], Eps, new float[4], new int[4], overlapping));

        var shape = new PoolShape(2, 1, 4, 4, 2, 2);
        var argmax = new int[shape.OutputLength];
        var pooled = Enumerable.Repeat(1f, shape.OutputLength).ToArray();
        argmax[4] = 3; // an output of plane 1 pointing into plane 0
        Assert.Throws<ArgumentException>(() => CpuKernels.BatchNorm2d.BackwardReLUMaxPool(new float[8], argmax, pooled,
            new float[32], [1], [0], [1], new float[32], new float[1], new float[1], shape));
    }
}

/// <summary>The fused kernels are bit-identical for any worker thread count.</summary>
[Collection(ElementwiseThreadCountCollection.Name)]
public class FusedBatchNormReLUMaxPoolThreadCountTests
{
    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var shape = new PoolShape(1000, 6, 28, 28, 2, 2); // evaluation size: split across workers
        var rng = new Random(10_300);
        var input = UniformFloat(rng, shape.InputLength, -2, 3);
        var gamma = UniformFloat(rng, 6, 0.5, 1.5);
        var beta = UniformFloat(rng, 6);
        var pooledGrad = UniformFloat(rng, shape.OutputLength);
        float[] Run(int threads)
        {
            var pooled = new float[shape.OutputLength];
            var argmax = new int[shape.OutputLength];
            var stats = new float[6 * 6];
            var inputGrad = new float[shape.InputLength];
            WithThreads(threads, () =>
            {
                CpuKernels.BatchNorm2d.ForwardTrainingReLUMaxPool(input, gamma, beta, pooled, argmax,
                    stats.AsSpan(0, 6), stats.AsSpan(6, 6), stats.AsSpan(12, 6), stats.AsSpan(18, 6), 0.1f, 1e-5f,
                    shape);
                CpuKernels.BatchNorm2d.BackwardReLUMaxPool(pooledGrad, argmax, pooled, input, gamma, stats.AsSpan(0, 6),
                    stats.AsSpan(6, 6), inputGrad, stats.AsSpan(24, 6), stats.AsSpan(30, 6), shape);
            });
            return [.. pooled, .. argmax.Select(i => (float)i), .. stats, .. inputGrad];
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }
}
