using LeNet.Kernels;
using Fast = LeNet.Kernels.Cpu;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>Changes <see cref="Fast.Workers"/>' thread count, so it runs alone.</summary>
[CollectionDefinition(nameof(WorkerThreadCountCollection), DisableParallelization = true)]
public class WorkerThreadCountCollection;

/// <summary>
/// Weight and bias gradients are batch reductions: the same call gives the same bits every time, and on one thread
/// as on two (the batch is reduced in parts of a fixed size, added in part order).
/// </summary>
[Collection(nameof(WorkerThreadCountCollection))]
public class DeterminismTests
{
    private static float[] RunWithThreads(int threads, Func<float[]> kernel)
    {
        int saved = Fast.Workers.ThreadCount;
        Fast.Workers.SetThreadCount(threads);
        try { return kernel(); }
        finally { Fast.Workers.SetThreadCount(saved); }
    }

    private static void AssertDeterministic(Func<float[]> kernel, string what)
    {
        var first = RunWithThreads(2, kernel);
        Assert.True(first.Any(v => v != 0), $"{what}: the gradient is all zeros, which checks nothing.");
        Assert.Equal(first, RunWithThreads(2, kernel));
        Assert.Equal(first, RunWithThreads(1, kernel));
        Assert.Equal(first, RunWithThreads(3, kernel));
    }

    [Fact]
    public void Convolution_weight_and_bias_gradients_are_bit_identical_run_to_run_and_across_thread_counts()
    {
        var shape = new ConvShape(61, 6, 14, 14, 16, 5, 5);
        var rng = new Random(20);
        var input = Conv2dTests.ToFloat(Uniform(rng, shape.InputLength));
        var outputGrad = Conv2dTests.ToFloat(Uniform(rng, shape.OutputLength));
        AssertDeterministic(() =>
        {
            var weightGrad = new float[shape.WeightLength];
            Fast.Conv2d.BackwardWeight(input, outputGrad, weightGrad, shape);
            return weightGrad;
        }, "conv weight gradient");
        AssertDeterministic(() =>
        {
            var biasGrad = new float[shape.OutChannels];
            Fast.Conv2d.BackwardBias(outputGrad, biasGrad, shape);
            return biasGrad;
        }, "conv bias gradient");
    }

    [Fact]
    public void Linear_weight_gradient_is_bit_identical_run_to_run_and_across_thread_counts()
    {
        var shape = new LinearShape(64, 400, 120);
        var rng = new Random(21);
        var input = Conv2dTests.ToFloat(Uniform(rng, shape.InputLength));
        var outputGrad = Conv2dTests.ToFloat(Uniform(rng, shape.OutputLength));
        AssertDeterministic(() =>
        {
            var weightGrad = new float[shape.WeightLength];
            Fast.Linear.BackwardWeight(input, outputGrad, weightGrad, shape);
            return weightGrad;
        }, "linear weight gradient");
    }
}
