using System.Runtime.Intrinsics;
using LeNet.Kernels.Cpu;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>The packed GEMM against a plain double product, at every vector width, transpose and edge.</summary>
public unsafe class GemmTests
{
    private const double Tolerance = 1e-4;

    /// <summary>Runs the GEMM at the given vector width (512, 256 or 128 bits).</summary>
    internal static void Multiply(int width, bool transposeA, bool transposeB, int m, int n, int k, float[] a, int lda,
        float[] b, int ldb, float[] c, int ldc, bool accumulate, bool parallel = false)
    {
        switch (width)
        {
            case 512: Gemm.Multiply<Vector512<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc,
                accumulate, parallel); break;
            case 256: Gemm.Multiply<Vector256<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc,
                accumulate, parallel); break;
            default: Gemm.Multiply<Vector128<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc,
                accumulate, parallel); break;
        }
    }

    private static double[] Expected(bool transposeA, bool transposeB, int m, int n, int k, double[] a, int lda,
        double[] b, int ldb, double[] c, int ldc, bool accumulate)
    {
        var result = (double[])c.Clone();
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int p = 0; p < k; p++)
                sum += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]);
            result[i * ldc + j] = accumulate ? result[i * ldc + j] + sum : sum;
        }
        return result;
    }

    private static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();

    private static void Check(int width, bool transposeA, bool transposeB, int m, int n, int k, bool accumulate,
        bool parallel, int seed)
    {
        var rng = new Random(seed);
        // Leading dimensions larger than the rows, so that a kernel that ignores them fails.
        int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 5, ldc = n + 2;
        var a = Uniform(rng, (transposeA ? k : m) * lda);
        var b = Uniform(rng, (transposeB ? n : k) * ldb);
        var c = Uniform(rng, m * ldc);
        var expected = Expected(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        var actual = ToFloat(c);
        Multiply(width, transposeA, transposeB, m, n, k, ToFloat(a), lda, ToFloat(b), ldb, actual, ldc, accumulate,
            parallel);
        double error = RelativeError(expected, actual.Select(v => (double)v).ToArray());
        Assert.True(error < Tolerance,
            $"{width}-bit GEMM {m}×{n}×{k} (transposeA {transposeA}, transposeB {transposeB}, accumulate " +
                $"{accumulate}): relative error {error:E3}.");
        // The padding between rows of C (columns n .. ldc) must be untouched.
        for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++)
            Assert.Equal((float)c[i * ldc + j], actual[i * ldc + j]);
    }

    public static TheoryData<int, bool, bool, bool> AllCombinations()
    {
        var data = new TheoryData<int, bool, bool, bool>();
        foreach (var width in new[] { 512, 256, 128 })
        foreach (var transposeA in new[] { false, true })
        foreach (var transposeB in new[] { false, true })
        foreach (var accumulate in new[] { false, true })
            data.Add(width, transposeA, transposeB, accumulate);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllCombinations))]
    public void Matches_a_double_product_on_shapes_off_every_tile_size(int width, bool transposeA, bool transposeB,
        bool accumulate)
    {
        // Edge tiles in M and N, one full tile, a single row or column, and K past one cache block (KC = 256).
        Check(width, transposeA, transposeB, 13, 37, 29, accumulate, parallel: false, seed: 1);
        Check(width, transposeA, transposeB, 6, 32, 7, accumulate, parallel: false, seed: 2);
        Check(width, transposeA, transposeB, 1, 1, 1, accumulate, parallel: false, seed: 3);
        Check(width, transposeA, transposeB, 101, 3, 300, accumulate, parallel: false, seed: 4);
        Check(width, transposeA, transposeB, 2, 71, 600, accumulate, parallel: false, seed: 5);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void Blocks_larger_than_the_cache_blocks_are_correct(int width)
    {
        // M past MC = 96 and N past NC = 2048.
        Check(width, false, true, 197, 2100, 5, accumulate: true, parallel: false, seed: 6);
    }

    [Theory]
    [InlineData(512, false, true)]
    [InlineData(512, true, false)]
    [InlineData(256, false, false)]
    [InlineData(128, true, true)]
    public void The_parallel_product_matches(int width, bool transposeA, bool transposeB)
    {
        Check(width, transposeA, transposeB, 64, 120, 400, accumulate: true, parallel: true, seed: 7);
        Check(width, transposeA, transposeB, 120, 10, 84, accumulate: false, parallel: true, seed: 8);
        Check(width, transposeA, transposeB, 1000, 33, 17, accumulate: false, parallel: true, seed: 9);
    }

    [Fact]
    public void Zero_inner_dimension_gives_zero_or_leaves_C()
    {
        var c = new[] { 1f, 2f, 3f, 4f };
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c, 2, accumulate: true);
        Assert.Equal([1f, 2f, 3f, 4f], c);
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c, 2, accumulate: false);
        Assert.Equal([0f, 0f, 0f, 0f], c);
    }

    [Fact]
    public void A_span_too_short_for_its_dimensions_is_rejected()
    {
        var c = new float[6];
        var error = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 2, 3, 4, new float[7], 4, new float[12], 3, c, 3, accumulate: false));
        Assert.Equal("a", error.ParamName);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void In_place_B_matches(int width)
    {
        // B used unpacked through row offsets: rows padded to a multiple of NR, the padding filled with values that
        // must not matter; K past one cache block.
        int m = 16, n = 100, k = 300, nr = 2 * width / 32, ldb = (n + nr - 1) / nr * nr, lda = k + 1;
        var rng = new Random(10);
        var a = Uniform(rng, m * lda);
        var b = Uniform(rng, k * ldb, 100, 200);
        var expected = Expected(false, false, m, n, k, a, lda, b, ldb, new double[m * n], n, false);
        var actual = new float[m * n];
        var offsets = Enumerable.Range(0, k).Select(p => p * ldb).ToArray();
        fixed (float* pa = ToFloat(a), pb = ToFloat(b), pc = actual)
        fixed (int* po = offsets)
        {
            switch (width)
            {
                case 512: Gemm.MultiplyInPlaceB<Vector512<float>>(m, n, k, pa, lda, pb, po, pc, n, false); break;
                case 256: Gemm.MultiplyInPlaceB<Vector256<float>>(m, n, k, pa, lda, pb, po, pc, n, false); break;
                default: Gemm.MultiplyInPlaceB<Vector128<float>>(m, n, k, pa, lda, pb, po, pc, n, false); break;
            }
        }
        double error = RelativeError(expected, actual.Select(v => (double)v).ToArray());
        Assert.True(error < Tolerance, $"{width}-bit in-place-B GEMM: relative error {error:E3}.");
    }
}
