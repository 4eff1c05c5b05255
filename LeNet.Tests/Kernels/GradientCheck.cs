namespace LeNet.Tests.Kernels;

/// <summary>
/// Central finite differences in double, random test inputs, and the error measure the gradient checks use.
/// Relative error is normwise: max_i |a_i − b_i| / max(max_i |a_i|, max_i |b_i|, 1e-30). Normwise rather than per
/// element because a near-zero gradient element carries the same absolute finite-difference noise (≈ ε·|L|/h) as every
/// other element, which is large relative to itself but not to the gradient as a whole.
/// </summary>
internal static class GradientCheck
{
    /// <summary>
    /// Finite-difference step for double: truncation error ~h², rounding error ~ε/h, both far below the tolerance.
    /// </summary>
    public const double Step = 1e-6;

    /// <summary>The verification chain's bound for Reference backward against finite differences.</summary>
    public const double Tolerance = 1e-6;

    /// <summary>Uniform values in [min, max).</summary>
    public static double[] Uniform(Random rng, int length, double min = -1, double max = 1)
    {
        var values = new double[length];
        for (int i = 0; i < length; i++)
            values[i] = min + (max - min) * rng.NextDouble();
        return values;
    }

    /// <summary>
    /// Values with |x| in [0.1, 1) and random sign: away from a kink at 0 by far more than <see cref="Step"/>.
    /// </summary>
    public static double[] AwayFromZero(Random rng, int length)
    {
        var values = Uniform(rng, length, 0.1, 1);
        for (int i = 0; i < length; i++)
            if (rng.Next(2) == 0) values[i] = -values[i];
        return values;
    }

    /// <summary>
    /// Distinct values in random order, at least 0.009 apart, so a step of ±h never changes which one is largest.
    /// </summary>
    public static double[] Distinct(Random rng, int length)
    {
        int[] rank = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
        var values = new double[length];
        for (int i = 0; i < length; i++)
            values[i] = (rank[i] - length / 2.0) * 0.01 + 0.001 * rng.NextDouble();
        return values;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        Assert.Equal(a.Length, b.Length);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            sum += a[i] * b[i];
        return sum;
    }

    /// <summary>
    /// ∂loss/∂x by central differences (L(x + h) − L(x − h)) / 2h, perturbing x in place and restoring it.
    /// </summary>
    public static double[] Numerical(double[] x, Func<double> loss)
    {
        var gradient = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            gradient[i] = NumericalAt(x, i, loss);
        return gradient;
    }

    /// <summary>
    /// ∂loss/∂x[index] by central differences, perturbing that one element in place and restoring it.
    /// </summary>
    public static double NumericalAt(double[] x, int index, Func<double> loss)
    {
        double saved = x[index];
        x[index] = saved + Step;
        double plus = loss();
        x[index] = saved - Step;
        double minus = loss();
        x[index] = saved;
        return (plus - minus) / (2 * Step);
    }

    /// <summary>The normwise relative error described on the class.</summary>
    public static double RelativeError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        Assert.Equal(a.Length, b.Length);
        double maxDiff = 0, maxA = 0, maxB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(a[i] - b[i]));
            maxA = Math.Max(maxA, Math.Abs(a[i]));
            maxB = Math.Max(maxB, Math.Abs(b[i]));
        }
        return maxDiff / Math.Max(Math.Max(maxA, maxB), 1e-30);
    }

    /// <summary>
    /// Asserts the analytic gradient matches the numerical one within <see cref="Tolerance"/>, and is not trivially
    /// zero.
    /// </summary>
    public static void AssertGradient(double[] analytic, double[] numerical, string what)
    {
        Assert.True(analytic.Any(v => v != 0), $"{what}: the analytic gradient is all zeros, which checks nothing.");
        double error = RelativeError(analytic, numerical);
        Assert.True(error < Tolerance,
            $"{what}: relative error {error:E3} between backward and finite differences exceeds {Tolerance:E0}.");
    }

    /// <summary>
    /// The accumulate contract of every backward kernel: into a buffer holding random values B, two calls must leave
    /// B + 2·g, where g is what one call writes into zeros. An overwriting kernel would leave g instead.
    /// </summary>
    public static void AssertAccumulates(Random rng, int length, Action<double[]> backward, string what)
    {
        var once = new double[length];
        backward(once);
        var prefilled = Uniform(rng, length);
        var twice = (double[])prefilled.Clone();
        backward(twice);
        backward(twice);
        var expected = new double[length];
        for (int i = 0; i < length; i++)
            expected[i] = prefilled[i] + 2 * once[i];
        double error = RelativeError(twice, expected);
        Assert.True(error < 1e-12,
            $"{what}: backward does not accumulate (+=) into its gradient buffer (relative error {error:E3}).");
    }
}
