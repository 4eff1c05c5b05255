using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// C[M×N] (+)= A[M×L] · B[N×L]ᵀ in inner-product form, for a long reduction L along which rows of both A and B are
/// contiguous (a convolution's weight gradient: output gradients times im2col rows). Nothing is packed: a 4×4 tile of
/// C keeps 16 vector accumulators along L and sums their lanes once at the end.
/// </summary>
internal static unsafe class GemmDot
{
    private const int Tile = 4;

    /// <summary>L must be a multiple of the vector width (callers zero-pad rows); rows are lda and ldb apart.</summary>
    public static void MultiplyTransposedB<TV>(int m, int n, int length, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
        where TV : struct
    {
        int width = Count<TV>();
        if (length % width != 0) throw new ArgumentException($"The reduction length {length} is not a multiple of the vector width {width}.", nameof(length));
        float* tile = stackalloc float[Tile * Tile];
        for (int i0 = 0; i0 < m; i0 += Tile)
        {
            int rows = Math.Min(Tile, m - i0);
            // Rows past the edge repeat the last row: computed, never stored.
            float* a0 = a + (nint)i0 * lda, a1 = a0 + (nint)Math.Min(1, rows - 1) * lda;
            float* a2 = a0 + (nint)Math.Min(2, rows - 1) * lda, a3 = a0 + (nint)Math.Min(3, rows - 1) * lda;
            for (int j0 = 0; j0 < n; j0 += Tile)
            {
                int columns = Math.Min(Tile, n - j0);
                float* b0 = b + (nint)j0 * ldb, b1 = b0 + (nint)Math.Min(1, columns - 1) * ldb;
                float* b2 = b0 + (nint)Math.Min(2, columns - 1) * ldb, b3 = b0 + (nint)Math.Min(3, columns - 1) * ldb;
                TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
                TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
                for (int l = 0; l < length; l += width)
                {
                    TV y0 = Load<TV>(b0 + l), y1 = Load<TV>(b1 + l), y2 = Load<TV>(b2 + l), y3 = Load<TV>(b3 + l);
                    TV x = Load<TV>(a0 + l);
                    c00 = MultiplyAdd(x, y0, c00); c01 = MultiplyAdd(x, y1, c01); c02 = MultiplyAdd(x, y2, c02); c03 = MultiplyAdd(x, y3, c03);
                    x = Load<TV>(a1 + l);
                    c10 = MultiplyAdd(x, y0, c10); c11 = MultiplyAdd(x, y1, c11); c12 = MultiplyAdd(x, y2, c12); c13 = MultiplyAdd(x, y3, c13);
                    x = Load<TV>(a2 + l);
                    c20 = MultiplyAdd(x, y0, c20); c21 = MultiplyAdd(x, y1, c21); c22 = MultiplyAdd(x, y2, c22); c23 = MultiplyAdd(x, y3, c23);
                    x = Load<TV>(a3 + l);
                    c30 = MultiplyAdd(x, y0, c30); c31 = MultiplyAdd(x, y1, c31); c32 = MultiplyAdd(x, y2, c32); c33 = MultiplyAdd(x, y3, c33);
                }
                tile[0] = Sum(c00); tile[1] = Sum(c01); tile[2] = Sum(c02); tile[3] = Sum(c03);
                tile[4] = Sum(c10); tile[5] = Sum(c11); tile[6] = Sum(c12); tile[7] = Sum(c13);
                tile[8] = Sum(c20); tile[9] = Sum(c21); tile[10] = Sum(c22); tile[11] = Sum(c23);
                tile[12] = Sum(c30); tile[13] = Sum(c31); tile[14] = Sum(c32); tile[15] = Sum(c33);
                for (int i = 0; i < rows; i++)
                {
                    float* row = c + (nint)(i0 + i) * ldc + j0;
                    for (int j = 0; j < columns; j++) row[j] = accumulate ? row[j] + tile[i * Tile + j] : tile[i * Tile + j];
                }
            }
        }
    }
}
