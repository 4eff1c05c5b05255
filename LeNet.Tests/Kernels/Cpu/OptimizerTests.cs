using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using static LeNet.Tests.Kernels.GradientCheck;
using CpuKernels = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// Cpu Adam and SGD against the Reference kernels in double over several steps. Parameters are compared by their change
/// (the update), which is what the optimiser computes; moments and momentum buffers directly.
/// </summary>
public class OptimizerTests
{
    // LeNet's tensor sizes (bias of 6 up to the 48,000 weights of the first linear layer) and odd lengths.
    private static readonly int[] Lengths = [1, 6, 17, 150, 2_416, 48_000];

    public static TheoryData<int, string> WidthsAndVariants()
    {
        var data = new TheoryData<int, string>();
        foreach (int width in new[] { 0, 256, 128 })
            foreach (string variant in new[] { "plain", "l2", "decoupled" })
                data.Add(width, variant);
        return data;
    }

    [Theory]
    [MemberData(nameof(WidthsAndVariants))]
    public void Adam_agrees_with_reference_over_steps(int width, string variant) => AtWidth(width, () =>
    {
        float weightDecay = variant == "plain" ? 0 : 0.05f;
        bool decoupled = variant == "decoupled";
        var rng = new Random(10_500 + width + variant.Length);
        foreach (int length in Lengths)
        {
            var parameter = UniformFloat(rng, length);
            var first = new float[length];
            var second = new float[length];
            var expectedParameter = Exactly(parameter);
            var expectedFirst = new double[length];
            var expectedSecond = new double[length];
            for (int step = 1; step <= 3; step++)
            {
                var grad = GradientLike(rng, parameter);
                var before = Exactly(parameter);
                CpuKernels.Adam.Step(parameter, grad, first, second, step, 0.05f, 0.9f, 0.999f, 1e-8f, weightDecay,
                    decoupled);
                // The Reference continues from the float state, so each step's update is compared on its own.
                expectedParameter = Exactly(ToFloat(before));
                Ref.Adam.Step<double>(expectedParameter, Exactly(grad), expectedFirst, expectedSecond, step, 0.05f,
                    0.9f, 0.999f, 1e-8f, weightDecay, decoupled);
                AssertAgrees(Difference(expectedParameter, before), ToFloat(Difference(Exactly(parameter), before)),
                    $"Adam ({variant}) update, length {length}, step {step}");
                AssertAgrees(expectedFirst, first, $"Adam ({variant}) first moment, length {length}, step {step}");
                AssertAgrees(expectedSecond, second, $"Adam ({variant}) second moment, length {length}, step {step}");
                expectedFirst = Exactly(first);
                expectedSecond = Exactly(second);
            }
        }
    });

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(128)]
    public void Adam_clearing_the_gradient_updates_exactly_as_without_and_leaves_it_zero(int width) =>
        AtWidth(width, () =>
    {
        // 48,000 + 17: several parts across the workers and a tail shorter than a vector.
        var rng = new Random(10_520 + width);
        const int length = 48_017;
        var parameter = UniformFloat(rng, length);
        var grad = GradientLike(rng, parameter);
        float[] kept = [.. parameter], keptGrad = [.. grad], first = new float[length], second = new float[length];
        float[] cleared = [.. parameter], clearedFirst = new float[length], clearedSecond = new float[length];
        for (int step = 1; step <= 2; step++)
        {
            float[] clearedGrad = [.. keptGrad];
            CpuKernels.Adam.Step(kept, keptGrad, first, second, step, 0.05f, 0.9f, 0.999f, 1e-8f, 0.01f);
            CpuKernels.Adam.Step(cleared, clearedGrad, clearedFirst, clearedSecond, step, 0.05f, 0.9f, 0.999f, 1e-8f,
                0.01f, clearGradient: true);
            Assert.Equal(kept, cleared);
            Assert.Equal(first, clearedFirst);
            Assert.Equal(second, clearedSecond);
            Assert.All(clearedGrad, g => Assert.Equal(0f, g));
        }
        Assert.NotEqual(parameter, kept);
    });

    public static TheoryData<int, string> WidthsAndSgdVariants()
    {
        var data = new TheoryData<int, string>();
        foreach (int width in new[] { 0, 256, 128 })
            foreach (string variant in new[] { "plain", "decay", "momentum", "dampening", "nesterov" })
                data.Add(width, variant);
        return data;
    }

    [Theory]
    [MemberData(nameof(WidthsAndSgdVariants))]
    public void Sgd_agrees_with_reference_over_steps(int width, string variant) => AtWidth(width, () =>
    {
        float momentum = variant is "momentum" or "dampening" or "nesterov" ? 0.9f : 0;
        float dampening = variant == "dampening" ? 0.1f : 0;
        float weightDecay = variant is "decay" or "nesterov" ? 0.01f : 0;
        bool nesterov = variant == "nesterov";
        var rng = new Random(10_600 + width + variant.Length);
        foreach (int length in Lengths)
        {
            var parameter = UniformFloat(rng, length);
            var buffer = momentum != 0 ? new float[length] : [];
            for (int step = 1; step <= 3; step++)
            {
                var grad = UniformFloat(rng, length);
                var before = Exactly(parameter);
                var expectedParameter = Exactly(parameter);
                var expectedBuffer = Exactly(buffer);
                CpuKernels.Sgd.Step(parameter, grad, buffer, step == 1, 0.1f, momentum, dampening, weightDecay,
                    nesterov);
                Ref.Sgd.Step<double>(expectedParameter, Exactly(grad), expectedBuffer, step == 1, 0.1f, momentum,
                    dampening, weightDecay, nesterov);
                AssertAgrees(Difference(expectedParameter, before), ToFloat(Difference(Exactly(parameter), before)),
                    $"SGD ({variant}) update, length {length}, step {step}");
                if (momentum != 0) AssertAgrees(expectedBuffer, buffer,
                    $"SGD ({variant}) momentum buffer, length {length}, step {step}");
            }
        }
    });

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernels.Adam.Step(new float[3], new float[3], new float[3],
            new float[3], 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0));
        Assert.Throws<ArgumentException>(() => CpuKernels.Adam.Step(new float[3], new float[2], new float[3],
            new float[3], 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0));
        Assert.Throws<ArgumentException>(() =>
            CpuKernels.Sgd.Step(new float[3], new float[3], new float[3], false, 0.1f, 0.9f, 0.1f, 0, nesterov: true));
        Assert.Throws<ArgumentException>(() =>
            CpuKernels.Sgd.Step(new float[3], new float[3], new float[2], false, 0.1f, 0.9f, 0, 0, false));
    }

    /// <summary>
    /// Gradients of magnitude [0.01, 0.1) with the parameter's sign. Were g + weightDecay·p allowed near 0, Adam's
    /// update g/(|g| + eps) there would hinge on the last bits of that sum: an ill-conditioned input, not a kernel
    /// error.
    /// </summary>
    internal static float[] GradientLike(Random rng, float[] parameter) =>
        parameter.Select(p => (float)(Math.CopySign(0.01 + 0.09 * rng.NextDouble(), p))).ToArray();

    private static double[] Difference(double[] after, double[] before) =>
        after.Select((v, i) => v - before[i]).ToArray();
}

/// <summary>The TensorPrimitives Adam (a benchmark baseline) against the Reference kernel in double.</summary>
public class PrimitivesAdamTests
{
    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.05f, false)]
    [InlineData(0.05f, true)]
    public void Steps_agree_with_reference(float weightDecay, bool decoupled)
    {
        var rng = new Random(11_400);
        foreach (int length in new[] { 1, 17, 2_416, 48_000 })
        {
            var parameter = UniformFloat(rng, length);
            var first = new float[length];
            var second = new float[length];
            for (int step = 1; step <= 3; step++)
            {
                var grad = OptimizerTests.GradientLike(rng, parameter);
                var before = Exactly(parameter);
                var expectedParameter = Exactly(parameter);
                var expectedFirst = Exactly(first);
                var expectedSecond = Exactly(second);
                LeNet.Benchmarks.Primitives.Adam.Step(parameter, grad, first, second, step, 0.05f, 0.9f, 0.999f, 1e-8f,
                    weightDecay, decoupled);
                Ref.Adam.Step<double>(expectedParameter, Exactly(grad), expectedFirst, expectedSecond, step, 0.05f,
                    0.9f, 0.999f, 1e-8f, weightDecay, decoupled);
                var update = Exactly(parameter).Select((v, i) => v - before[i]).ToArray();
                AssertAgrees(expectedParameter.Select((v, i) => v - before[i]).ToArray(), ToFloat(update),
                    $"update, length {length}, step {step}");
                AssertAgrees(expectedFirst, first, "first moment");
                AssertAgrees(expectedSecond, second, "second moment");
            }
        }
    }
}
