using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using CpuKernels = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// Cpu BatchNorm2d against the Reference kernel in double: outputs, saved statistics, running statistics, accumulating
/// backward.
/// </summary>
public class BatchNorm2dTests
{
    private const float Momentum = 0.1f, Eps = 1e-5f;

    // LeNet's two BatchNorms at batch 64, odd sizes, a single image, and a batch of 1000.
    private static readonly BatchNormShape[] Shapes =
    [
        new(1, 3, 5), new(3, 2, 7), new(2, 5, 1), new(64, 6, 784), new(64, 16, 100), new(1000, 3, 13), new(1, 2, 2500),
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
        public required float[] Input, Gamma, Beta, RunningMean, RunningVar, OutputGrad;
    }

    private static Case Draw(BatchNormShape shape, int seed, double offset = 0)
    {
        var rng = new Random(seed);
        return new Case
        {
            Input = UniformFloat(rng, shape.Length, offset - 2, offset + 3),
            Gamma = UniformFloat(rng, shape.Channels, 0.5, 1.5),
            Beta = UniformFloat(rng, shape.Channels),
            RunningMean = UniformFloat(rng, shape.Channels),
            RunningVar = UniformFloat(rng, shape.Channels, 0.5, 2),
            OutputGrad = UniformFloat(rng, shape.Length),
        };
    }

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Training_forward_agrees_with_reference(int width, int shapeIndex) => AtWidth(width, () =>
        AssertTrainingForward(Shapes[shapeIndex], Draw(Shapes[shapeIndex], 9700 + shapeIndex)));

    [Fact]
    public void Training_forward_statistics_stay_accurate_when_the_mean_dwarfs_the_spread()
    {
        // Inputs near 1000 with spread ~1: E[x²] − E[x]² in float would lose every digit of the variance.
        var shape = new BatchNormShape(64, 6, 784);
        AssertTrainingForward(shape, Draw(shape, 9750, offset: 1000));
    }

    private static void AssertTrainingForward(BatchNormShape shape, Case data)
    {
        int C = shape.Channels;
        var output = new float[shape.Length];
        var mean = new float[C];
        var invStd = new float[C];
        var runningMean = (float[])data.RunningMean.Clone();
        var runningVar = (float[])data.RunningVar.Clone();
        CpuKernels.BatchNorm2d.ForwardTraining(data.Input, data.Gamma, data.Beta, output, mean, invStd, runningMean,
            runningVar, Momentum, Eps, shape);

        var expected = new double[shape.Length];
        var expectedMean = new double[C];
        var expectedInvStd = new double[C];
        var expectedRunningMean = Exactly(data.RunningMean);
        var expectedRunningVar = Exactly(data.RunningVar);
        Ref.BatchNorm2d.ForwardTraining<double>(Exactly(data.Input), Exactly(data.Gamma), Exactly(data.Beta), expected,
            expectedMean, expectedInvStd, expectedRunningMean, expectedRunningVar, Momentum, Eps, shape);

        AssertAgrees(expected, output, $"forward output {shape}");
        AssertAgrees(expectedMean, mean, $"batch mean {shape}");
        AssertAgrees(expectedInvStd, invStd, $"inverse std {shape}");
        AssertAgrees(expectedRunningMean, runningMean, $"running mean {shape}");
        AssertAgrees(expectedRunningVar, runningVar, $"running variance {shape}");
    }

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Inference_forward_agrees_with_reference(int width, int shapeIndex) => AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var data = Draw(shape, 9800 + shapeIndex);
        var output = new float[shape.Length];
        CpuKernels.BatchNorm2d.ForwardInference(data.Input, data.Gamma, data.Beta, data.RunningMean, data.RunningVar,
            Eps, output, shape);
        var expected = new double[shape.Length];
        Ref.BatchNorm2d.ForwardInference<double>(Exactly(data.Input), Exactly(data.Gamma), Exactly(data.Beta),
            Exactly(data.RunningMean), Exactly(data.RunningVar), Eps, expected, shape);
        AssertAgrees(expected, output, $"inference output {shape}");
    });

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void Backward_accumulates_like_reference(int width, int shapeIndex) => AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var data = Draw(shape, 9900 + shapeIndex);
        int C = shape.Channels;
        // The saved statistics as the Reference computes them, given to both kernels.
        var expectedMean = new double[C];
        var expectedInvStd = new double[C];
        Ref.BatchNorm2d.ForwardTraining<double>(Exactly(data.Input), Exactly(data.Gamma), Exactly(data.Beta),
            new double[shape.Length], expectedMean, expectedInvStd, new double[C], new double[C], Momentum, Eps, shape);
        var mean = ToFloat(expectedMean);
        var invStd = ToFloat(expectedInvStd);

        var rng = new Random(9950 + shapeIndex);
        var inputGrad = UniformFloat(rng, shape.Length);
        var gammaGrad = UniformFloat(rng, C);
        var betaGrad = UniformFloat(rng, C);
        var expectedInputGrad = Exactly(inputGrad);
        var expectedGammaGrad = Exactly(gammaGrad);
        var expectedBetaGrad = Exactly(betaGrad);
        CpuKernels.BatchNorm2d.Backward(data.OutputGrad, data.Input, data.Gamma, mean, invStd, inputGrad, gammaGrad,
            betaGrad, shape);
        Ref.BatchNorm2d.Backward<double>(Exactly(data.OutputGrad), Exactly(data.Input), Exactly(data.Gamma),
            Exactly(mean), Exactly(invStd), expectedInputGrad, expectedGammaGrad, expectedBetaGrad, shape);

        AssertAgrees(expectedInputGrad, inputGrad, $"input gradient {shape}");
        AssertAgrees(expectedGammaGrad, gammaGrad, $"gamma gradient {shape}");
        AssertAgrees(expectedBetaGrad, betaGrad, $"beta gradient {shape}");
    });

    [Fact]
    public void Training_needs_more_than_one_value_per_channel()
    {
        var shape = new BatchNormShape(1, 2, 1);
        Assert.Throws<ArgumentException>(() => CpuKernels.BatchNorm2d.ForwardTraining(new float[2], new float[2],
            new float[2], new float[2], new float[2], new float[2], new float[2], new float[2], Momentum, Eps, shape));
    }

    [Fact]
    public void Repeated_calls_are_bit_identical()
    {
        var shape = new BatchNormShape(64, 6, 784);
        var data = Draw(shape, 9990);
        float[] Run()
        {
            var output = new float[shape.Length];
            var stats = new float[4 * 6];
            var runningMean = (float[])data.RunningMean.Clone();
            var runningVar = (float[])data.RunningVar.Clone();
            CpuKernels.BatchNorm2d.ForwardTraining(data.Input, data.Gamma, data.Beta, output, stats.AsSpan(0, 6),
                stats.AsSpan(6, 6), runningMean, runningVar, Momentum, Eps, shape);
            var inputGrad = new float[shape.Length];
            CpuKernels.BatchNorm2d.Backward(data.OutputGrad, data.Input, data.Gamma, stats.AsSpan(0, 6),
                stats.AsSpan(6, 6), inputGrad, stats.AsSpan(12, 6), stats.AsSpan(18, 6), shape);
            return [.. output, .. stats, .. runningMean, .. runningVar, .. inputGrad];
        }
        var first = Run();
        Assert.Equal(first, Run());
    }
}

/// <summary>
/// BatchNorm's statistics and gradients are bit-identical for any worker thread count (partials per plane, merged in
/// order).
/// </summary>
[Collection(ElementwiseThreadCountCollection.Name)]
public class BatchNorm2dThreadCountTests
{
    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var shape = new BatchNormShape(1000, 6, 784); // evaluation size: split across workers
        var rng = new Random(9995);
        var input = UniformFloat(rng, shape.Length, -2, 3);
        var gamma = UniformFloat(rng, 6, 0.5, 1.5);
        var beta = UniformFloat(rng, 6);
        var outputGrad = UniformFloat(rng, shape.Length);
        float[] Run(int threads)
        {
            var output = new float[shape.Length];
            var stats = new float[6 * 6];
            var inputGrad = new float[shape.Length];
            WithThreads(threads, () =>
            {
                CpuKernels.BatchNorm2d.ForwardTraining(input, gamma, beta, output, stats.AsSpan(0, 6),
                    stats.AsSpan(6, 6), stats.AsSpan(12, 6), stats.AsSpan(18, 6), 0.1f, 1e-5f, shape);
                CpuKernels.BatchNorm2d.Backward(outputGrad, input, gamma, stats.AsSpan(0, 6), stats.AsSpan(6, 6),
                    inputGrad, stats.AsSpan(24, 6), stats.AsSpan(30, 6), shape);
            });
            return [.. output, .. stats, .. inputGrad];
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }
}

/// <summary>The TensorPrimitives BatchNorm2d (a benchmark baseline) against the Reference kernel in double.</summary>
public class PrimitivesBatchNorm2dTests
{
    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(3, 2, 7)]
    [InlineData(64, 6, 784)]
    [InlineData(1000, 3, 13)]
    [InlineData(1, 2, 2500)]
    public void Training_inference_and_backward_agree_with_reference(int batch, int channels, int spatial)
    {
        var shape = new BatchNormShape(batch, channels, spatial);
        var rng = new Random(11_000 + spatial);
        var input = UniformFloat(rng, shape.Length, -2, 3);
        var gamma = UniformFloat(rng, channels, 0.5, 1.5);
        var beta = UniformFloat(rng, channels);
        var runningMean = UniformFloat(rng, channels);
        var runningVar = UniformFloat(rng, channels, 0.5, 2);
        var outputGrad = UniformFloat(rng, shape.Length);

        var output = new float[shape.Length];
        var mean = new float[channels];
        var invStd = new float[channels];
        var rm = (float[])runningMean.Clone();
        var rv = (float[])runningVar.Clone();
        LeNet.Benchmarks.Primitives.BatchNorm2d.ForwardTraining(input, gamma, beta, output, mean, invStd, rm, rv, 0.1f,
            1e-5f, shape);
        var expected = new double[shape.Length];
        var expectedMean = new double[channels];
        var expectedInvStd = new double[channels];
        var expectedRm = Exactly(runningMean);
        var expectedRv = Exactly(runningVar);
        LeNet.Kernels.Reference.BatchNorm2d.ForwardTraining<double>(Exactly(input), Exactly(gamma), Exactly(beta),
            expected, expectedMean, expectedInvStd, expectedRm, expectedRv, 0.1f, 1e-5f, shape);
        AssertAgrees(expected, output, "training output");
        AssertAgrees(expectedInvStd, invStd, "inverse std");
        AssertAgrees(expectedRv, rv, "running variance");

        LeNet.Benchmarks.Primitives.BatchNorm2d.ForwardInference(input, gamma, beta, runningMean, runningVar, 1e-5f,
            output, shape);
        LeNet.Kernels.Reference.BatchNorm2d.ForwardInference<double>(Exactly(input), Exactly(gamma), Exactly(beta),
            Exactly(runningMean), Exactly(runningVar), 1e-5f, expected, shape);
        AssertAgrees(expected, output, "inference output");

        var inputGrad = UniformFloat(rng, shape.Length);
        var gammaGrad = UniformFloat(rng, channels);
        var betaGrad = UniformFloat(rng, channels);
        var expectedInputGrad = Exactly(inputGrad);
        var expectedGammaGrad = Exactly(gammaGrad);
        var expectedBetaGrad = Exactly(betaGrad);
        LeNet.Benchmarks.Primitives.BatchNorm2d.Backward(outputGrad, input, gamma, mean, invStd, inputGrad, gammaGrad,
            betaGrad, shape);
        LeNet.Kernels.Reference.BatchNorm2d.Backward<double>(Exactly(outputGrad), Exactly(input), Exactly(gamma),
            Exactly(mean), Exactly(invStd), expectedInputGrad, expectedGammaGrad, expectedBetaGrad, shape);
        AssertAgrees(expectedInputGrad, inputGrad, "input gradient");
        AssertAgrees(expectedGammaGrad, gammaGrad, "gamma gradient");
        AssertAgrees(expectedBetaGrad, betaGrad, "beta gradient");
    }
}
