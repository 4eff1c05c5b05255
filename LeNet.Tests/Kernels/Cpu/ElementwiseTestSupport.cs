using LeNet.Kernels.Cpu;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// Shared by the elementwise Cpu kernel tests: float/double conversion, the 1e-4 agreement check, and the SIMD width
/// switch.
/// </summary>
internal static class ElementwiseTestSupport
{
    /// <summary>The verification chain's bound for Cpu (float) against Reference (double).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>
    /// Vector widths to run each agreement test at: 0 is the widest the machine has, then the 256- and 128-bit paths.
    /// </summary>
    public static readonly TheoryData<int> Widths = new(0, 256, 128);

    public static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();

    /// <summary>The float values exactly, in double: what the Reference kernel in double should be given.</summary>
    public static double[] Exactly(float[] values) => values.Select(v => (double)v).ToArray();

    public static float[] UniformFloat(Random rng, int length, double min = -1, double max = 1) =>
        ToFloat(Uniform(rng, length, min, max));

    /// <summary>
    /// Normwise agreement: the largest difference relative to the largest value. All-zero expected values would make
    /// any kernel that writes zeros (or nothing, into a zeroed buffer) agree, so they are refused: they check nothing.
    /// </summary>
    public static void AssertAgrees(double[] expected, float[] actual, string what)
    {
        Assert.True(expected.Any(v => v != 0), $"{what}: the expected values are all zero, which checks nothing.");
        double error = RelativeError(expected, Exactly(actual));
        Assert.True(error < Tolerance,
            $"{what}: Cpu (float) differs from Reference (double) by relative error {error:E3}.");
    }

    /// <summary>
    /// For kernels that map each element on its own (activations): the normwise check, and each element within the
    /// tolerance of its own value or within <paramref name="absolute"/>, so that an error in elements far smaller than
    /// the largest cannot hide behind it. The default floor is float's smallest normal value, below which float holds
    /// no relative precision; a kernel computed through exp near 0 (tanh) is exact to a few ulps of 1 instead.
    /// </summary>
    public static void AssertAgreesElementwise(double[] expected, float[] actual, string what,
        double absolute = SmallestNormalFloat)
    {
        AssertAgrees(expected, actual, what);
        for (var i = 0; i < expected.Length; i++)
        {
            double difference = Math.Abs(expected[i] - actual[i]);
            Assert.True(difference <= absolute || difference / Math.Abs(expected[i]) < Tolerance,
                $"{what}: at {i}, Cpu (float) {actual[i]} differs from Reference (double) {expected[i]} by "
                + $"{difference:E3}, relative error {difference / Math.Abs(expected[i]):E3}.");
        }
    }

    /// <summary>2^-126, float's smallest normal value.</summary>
    public const double SmallestNormalFloat = 1.1754943508222875e-38;

    /// <summary>Four ulps of 1.0 in float (2^-21): the absolute accuracy of an activation computed via exp.</summary>
    public const double FewUlpsOfOne = 4.76837158203125e-7;

    public static void AssertAgrees(double expected, float actual, string what)
    {
        double error = Math.Abs(expected - actual) / Math.Max(Math.Max(Math.Abs(expected), Math.Abs(actual)), 1e-30);
        Assert.True(error < Tolerance,
            $"{what}: Cpu (float) {actual} differs from Reference (double) {expected} by relative error {error:E3}.");
    }

    /// <summary>
    /// Runs <paramref name="action"/> with this thread's kernels limited to <paramref name="width"/> bits (0: no
    /// limit).
    /// </summary>
    public static void AtWidth(int width, Action action)
    {
        int saved = ElementwiseSimd.WidthOverride;
        ElementwiseSimd.WidthOverride = width;
        try { action(); }
        finally { ElementwiseSimd.WidthOverride = saved; }
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the worker pool at <paramref name="threads"/> threads, restoring the count
    /// after.
    /// </summary>
    public static void WithThreads(int threads, Action action)
    {
        int saved = Workers.ThreadCount;
        Workers.SetThreadCount(threads);
        try { action(); }
        finally { Workers.SetThreadCount(saved); }
    }
}

/// <summary>
/// Tests that change the worker pool's thread count run alone, so they never change it under another test.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ElementwiseThreadCountCollection
{
    public const string Name = "Elementwise kernels, thread count";
}
