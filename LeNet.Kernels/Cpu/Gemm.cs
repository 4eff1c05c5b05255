using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Single-precision GEMM, row-major with leading dimensions, BLIS style: C[M×N] (+)= op(A)[M×K] · op(B)[K×N].
/// op(B) is packed into panels of NR = 2 vectors of columns (packing does its transpose) and op(A) read in place
/// (a convolution's weights are packed into panels of <see cref="MR"/> rows instead); a register-blocked micro-kernel
/// computes an MR×NR tile of C along K, vectorised along N. K is blocked by <see cref="KC"/>, M by <see cref="MC"/>
/// and N by <see cref="NC"/> to keep the blocks in cache.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>Rows of a micro-tile (and of a packed A panel).</summary>
    public const int MR = 6;
    internal const int KC = 256, MC = 96, NC = 2048;

    /// <summary>
    /// C = op(A)·op(B), or C += op(A)·op(B) when <paramref name="accumulate"/>; op(A) is A [M×K] (lda ≥ K), or Aᵀ of
    /// A [K×M] (lda ≥ M) when <paramref name="transposeA"/>; likewise op(B) from B [K×N] or [N×K]. Single-threaded.
    /// </summary>
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate)
    {
        switch (Dispatch)
        {
            case 512:
                Multiply<Vector512<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    parallel: false);
                break;
            case 256:
                Multiply<Vector256<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    parallel: false);
                break;
            default:
                Multiply<Vector128<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    parallel: false);
                break;
        }
    }

    /// <summary>Like <see cref="Multiply"/>, but tiles of C are computed in parallel by <see cref="Workers"/>. Each
    /// element of C is summed in the same order either way.</summary>
    public static void MultiplyParallel(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate)
    {
        switch (Dispatch)
        {
            case 512:
                Multiply<Vector512<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    parallel: true);
                break;
            case 256:
                Multiply<Vector256<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    parallel: true);
                break;
            default:
                Multiply<Vector128<float>>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate,
                    parallel: true);
                break;
        }
    }

    /// <summary>The GEMM at one vector width TV; checks that the spans hold the matrices their dimensions
    /// describe.</summary>
    internal static void Multiply<TV>(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate,
        bool parallel)
        where TV : struct
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), "Matrix dimensions must be non-negative.");
        if (m == 0 || n == 0) return;
        RequireMatrix(a.Length, transposeA ? k : m, transposeA ? m : k, lda, nameof(a));
        RequireMatrix(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b));
        RequireMatrix(c.Length, m, n, ldc, nameof(c));
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (parallel) MultiplyParallel<TV>(transposeA, transposeB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
            else Multiply<TV>(transposeA, transposeB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
        }
    }

    private static void RequireMatrix(int length, int rows, int columns, int leadingDimension, string name)
    {
        if (leadingDimension < columns)
            throw new ArgumentException(
                $"The leading dimension of {name} is {leadingDimension}, less than its {columns} columns.", name);
        if (rows > 0 && columns > 0 && (long)(rows - 1) * leadingDimension + columns > length)
            throw new ArgumentException(
                $"{name} has length {length}, too short for {rows}×{columns} with leading " +
                    $"dimension {leadingDimension}.",
                name);
    }

    [ThreadStatic] private static float[]? _packedA, _packedB;

    /// <summary>The serial GEMM on pointers (no checks): the building block of the kernels.</summary>
    /// <remarks>
    /// B's packing scratch is sized for at least <paramref name="scratchN"/> columns: a parallel GEMM gives every part
    /// the largest part's width, so that a thread that takes over another's part (of another size) never has to grow
    /// its scratch, and a warm step allocates nothing whichever thread ran which part.
    /// </remarks>
    internal static void Multiply<TV>(bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int scratchN = 0) where TV : struct
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + (nint)i * ldc, n).Clear();
            return;
        }
        int nr = 2 * Count<TV>();
        int kcMax = Math.Min(k, KC);
        float* packedB = GemmScratch.Get(ref _packedB, RoundUp(Math.Min(Math.Max(n, scratchN), NC), nr) * kcMax);
        // op(A)'s element (i, p) is read in place at a[i·rowStep + p·depthStep]: a block of MC × KC stays in L2.
        nint rowStep = transposeA ? 1 : lda, depthStep = transposeA ? lda : 1;
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                PackB<TV>(transposeB, transposeB ? b + (nint)jc * ldb + pc : b + (nint)pc * ldb + jc, ldb, kc, nc,
                    packedB);
                bool add = accumulate || pc > 0;
                for (int ic = 0; ic < m; ic += MC)
                for (int jr = 0; jr < nc; jr += nr)
                for (int ir = ic; ir < Math.Min(m, ic + MC); ir += MR)
                    MicroKernelInPlaceA<TV>(kc, a + ir * rowStep + pc * depthStep, rowStep, depthStep,
                        packedB + (nint)jr * kc, c + (nint)ir * ldc + jc + jr, ldc, Math.Min(MR, m - ir),
                        Math.Min(nr, nc - jr), add);
            }
        }
    }

    /// <summary>
    /// C (+)= A·B where A [M×K] is row-major (not transposed) and B [K×N] is used in place, unpacked: row p of B starts
    /// at b + bRowOffsets[p] and must be readable up to column RoundUp(N, NR) (what lies past N does not matter, but
    /// should be finite). For operands built in scratch (an im2col matrix) or read straight from an image (an implicit
    /// convolution, where the offsets step through channels and kernel taps), this saves the copy into panels.
    /// </summary>
    internal static void MultiplyInPlaceB<TV>(int m, int n, int k, float* a, int lda, float* b, int* bRowOffsets,
        float* c, int ldc, bool accumulate)
        where TV : struct
    {
        if (m <= 0 || n <= 0) return;
        // A's panels at their largest (MC × KC, 96 KB) from the first call: batches of any size reuse them.
        float* packedA = GemmScratch.Get(ref _packedA, RoundUp(MC, MR) * KC);
        for (int pc = 0; pc < k; pc += KC)
        {
            int kc = Math.Min(KC, k - pc);
            bool add = accumulate || pc > 0;
            for (int ic = 0; ic < m; ic += MC)
            {
                int mc = Math.Min(MC, m - ic);
                PackA(false, a + (nint)ic * lda + pc, lda, mc, kc, packedA);
                Block<TV>(mc, n, kc, packedA, b, bRowOffsets + pc, c + (nint)ic * ldc, ldc, add);
            }
        }
    }

    /// <summary>All micro-tiles of one block of packed A panels against B in place, B's panel j from
    /// b + j·NR.</summary>
    private static void Block<TV>(int mc, int nc, int kc, float* packedA, float* b, int* bRowOffsets, float* c, int ldc,
        bool accumulate)
        where TV : struct
    {
        int nr = 2 * Count<TV>();
        for (int jr = 0; jr < nc; jr += nr)
        {
            float* panelB = b + jr;
            int columns = Math.Min(nr, nc - jr);
            for (int ir = 0; ir < mc; ir += MR)
                MicroKernel<TV>(kc, packedA + ir * kc, panelB, bRowOffsets, c + (nint)ir * ldc + jr, ldc,
                    Math.Min(MR, mc - ir), columns, accumulate, Count<TV>());
        }
    }

    /// <summary>
    /// One MR×NR tile: C (+)= Σ_p a[p·MR + i] · b[bRowOffsets[p] + j]. Rows ≥ <paramref name="rows"/> and columns ≥
    /// <paramref name="columns"/> are computed (on zero padding or don't-care values) but not stored. Columns j ≥ w
    /// (TV's width) are read at b[bRowOffsets[p] + secondVector + j − w]: secondVector is w for a plain panel, and
    /// the row length of an image for a convolution that puts two output rows of positions in one tile.
    /// </summary>
    [SkipLocalsInit]
    internal static void MicroKernel<TV>(int kc, float* a, float* b, int* bRowOffsets, float* c, int ldc, int rows,
        int columns, bool accumulate, nint secondVector) where TV : struct
    {
        int width = Count<TV>();
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            float* row = b + bRowOffsets[p];
            TV b0 = Load<TV>(row), b1 = Load<TV>(row + secondVector);
            TV ai = Broadcast<TV>(a[0]);
            c00 = MultiplyAdd(ai, b0, c00); c01 = MultiplyAdd(ai, b1, c01);
            ai = Broadcast<TV>(a[1]);
            c10 = MultiplyAdd(ai, b0, c10); c11 = MultiplyAdd(ai, b1, c11);
            ai = Broadcast<TV>(a[2]);
            c20 = MultiplyAdd(ai, b0, c20); c21 = MultiplyAdd(ai, b1, c21);
            ai = Broadcast<TV>(a[3]);
            c30 = MultiplyAdd(ai, b0, c30); c31 = MultiplyAdd(ai, b1, c31);
            ai = Broadcast<TV>(a[4]);
            c40 = MultiplyAdd(ai, b0, c40); c41 = MultiplyAdd(ai, b1, c41);
            ai = Broadcast<TV>(a[5]);
            c50 = MultiplyAdd(ai, b0, c50); c51 = MultiplyAdd(ai, b1, c51);
            a += MR;
        }
        StoreTile(c, ldc, rows, columns, accumulate, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary>
    /// One MR×NR tile from op(A) read in place, its element (i, p) at a[i·rowStep + p·depthStep] (rows past
    /// <paramref name="rows"/> read row rows − 1 again), and a packed B panel: C (+)= Σ_p a(i, p) · b[p·NR + j].
    /// </summary>
    [SkipLocalsInit]
    private static void MicroKernelInPlaceA<TV>(int kc, float* a, nint rowStep, nint depthStep, float* b, float* c,
        int ldc, int rows, int columns, bool accumulate) where TV : struct
    {
        int width = Count<TV>(), nr = 2 * width;
        float* a1 = a + Math.Min(1, rows - 1) * rowStep, a2 = a + Math.Min(2, rows - 1) * rowStep;
        float* a3 = a + Math.Min(3, rows - 1) * rowStep, a4 = a + Math.Min(4, rows - 1) * rowStep;
        float* a5 = a + Math.Min(5, rows - 1) * rowStep;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint at = 0;
        for (int p = 0; p < kc; p++, at += depthStep, b += nr)
        {
            TV b0 = Load<TV>(b), b1 = Load<TV>(b + width);
            TV ai = Broadcast<TV>(a[at]);
            c00 = MultiplyAdd(ai, b0, c00); c01 = MultiplyAdd(ai, b1, c01);
            ai = Broadcast<TV>(a1[at]);
            c10 = MultiplyAdd(ai, b0, c10); c11 = MultiplyAdd(ai, b1, c11);
            ai = Broadcast<TV>(a2[at]);
            c20 = MultiplyAdd(ai, b0, c20); c21 = MultiplyAdd(ai, b1, c21);
            ai = Broadcast<TV>(a3[at]);
            c30 = MultiplyAdd(ai, b0, c30); c31 = MultiplyAdd(ai, b1, c31);
            ai = Broadcast<TV>(a4[at]);
            c40 = MultiplyAdd(ai, b0, c40); c41 = MultiplyAdd(ai, b1, c41);
            ai = Broadcast<TV>(a5[at]);
            c50 = MultiplyAdd(ai, b0, c50); c51 = MultiplyAdd(ai, b1, c51);
        }
        StoreTile(c, ldc, rows, columns, accumulate, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    /// <summary>An MR×NR tile of accumulators onto C (+=, or =): whole rows as vectors, an edge tile through the
    /// stack.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile<TV>(float* c, int ldc, int rows, int columns, bool accumulate, TV c00, TV c01, TV c10,
        TV c11, TV c20, TV c21, TV c30, TV c31, TV c40, TV c41, TV c50, TV c51) where TV : struct
    {
        int width = Count<TV>();
        if (rows == MR && columns == 2 * width)
        {
            StoreRow(c, width, c00, c01, accumulate);
            StoreRow(c + ldc, width, c10, c11, accumulate);
            StoreRow(c + 2 * ldc, width, c20, c21, accumulate);
            StoreRow(c + 3 * ldc, width, c30, c31, accumulate);
            StoreRow(c + 4 * ldc, width, c40, c41, accumulate);
            StoreRow(c + 5 * ldc, width, c50, c51, accumulate);
            return;
        }
        int nr = 2 * width;
        float* tile = stackalloc float[MR * 32];
        Store(tile, c00); Store(tile + width, c01);
        Store(tile + nr, c10); Store(tile + nr + width, c11);
        Store(tile + 2 * nr, c20); Store(tile + 2 * nr + width, c21);
        Store(tile + 3 * nr, c30); Store(tile + 3 * nr + width, c31);
        Store(tile + 4 * nr, c40); Store(tile + 4 * nr + width, c41);
        Store(tile + 5 * nr, c50); Store(tile + 5 * nr + width, c51);
        for (int i = 0; i < rows; i++)
        {
            float* row = c + (nint)i * ldc, source = tile + i * nr;
            if (accumulate) for (int j = 0; j < columns; j++) row[j] += source[j];
            else for (int j = 0; j < columns; j++) row[j] = source[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TV>(float* c, int width, TV v0, TV v1, bool accumulate) where TV : struct
    {
        if (accumulate)
        {
            v0 = Add(v0, Load<TV>(c));
            v1 = Add(v1, Load<TV>(c + width));
        }
        Store(c, v0);
        Store(c + width, v1);
    }

    /// <summary>
    /// Packs op(A)[0..mc, 0..kc] into panels of MR rows: panel[p·MR + i]. a points at op(A)[0, 0]; op(A)[i, p] is
    /// a[i·lda + p], or a[p·lda + i] when transposed. Rows past mc are zero.
    /// </summary>
    internal static void PackA(bool transpose, float* a, int lda, int mc, int kc, float* packed)
    {
        for (int ir = 0; ir < mc; ir += MR, packed += MR * kc)
        {
            int rows = Math.Min(MR, mc - ir);
            if (transpose)
            {
                float* source = a + ir;
                for (int p = 0; p < kc; p++, source += lda)
                {
                    float* target = packed + p * MR;
                    int i = 0;
                    for (; i < rows; i++) target[i] = source[i];
                    for (; i < MR; i++) target[i] = 0;
                }
            }
            else
            {
                // Six row streams read in step, so that the writes are contiguous.
                float* row0 = a + (nint)ir * lda;
                float* row1 = rows > 1 ? row0 + lda : row0, row2 = rows > 2 ? row0 + 2 * lda : row0;
                float* row3 = rows > 3 ? row0 + 3 * lda : row0, row4 = rows > 4 ? row0 + 4 * lda : row0;
                float* row5 = rows > 5 ? row0 + 5 * lda : row0;
                float* target = packed;
                for (int p = 0; p < kc; p++, target += MR)
                {
                    target[0] = row0[p]; target[1] = row1[p]; target[2] = row2[p];
                    target[3] = row3[p]; target[4] = row4[p]; target[5] = row5[p];
                }
                if (rows < MR)
                    for (int p = 0; p < kc; p++)
                        for (int i = rows; i < MR; i++) packed[p * MR + i] = 0;
            }
        }
    }

    /// <summary>
    /// Packs op(B)[0..kc, 0..nc] into panels of NR columns: panel[p·NR + j]. b points at op(B)[0, 0]; op(B)[p, j] is
    /// b[p·ldb + j], or b[j·ldb + p] when transposed. Columns past nc are zero.
    /// </summary>
    internal static void PackB<TV>(bool transpose, float* b, int ldb, int kc, int nc, float* packed) where TV : struct
    {
        int width = Count<TV>(), nr = 2 * width;
        for (int jr = 0; jr < nc; jr += nr, packed += nr * kc)
        {
            int columns = Math.Min(nr, nc - jr);
            if (transpose)
            {
                // Rows of B are columns of op(B): read them in step, eight at a time, so that the writes are
                // contiguous.
                int j = 0;
                for (; j + 8 <= columns; j += 8)
                {
                    float* s0 = b + (nint)(jr + j) * ldb;
                    float* s1 = s0 + ldb, s2 = s0 + 2 * ldb, s3 = s0 + 3 * ldb;
                    float* s4 = s0 + 4 * ldb, s5 = s0 + 5 * ldb, s6 = s0 + 6 * ldb, s7 = s0 + 7 * ldb;
                    float* target = packed + j;
                    int p = 0;
                    if (Avx.IsSupported)
                        for (; p + 8 <= kc; p += 8, target += 8 * nr)
                            Transpose8x8(s0 + p, ldb, target, nr);
                    for (; p < kc; p++, target += nr)
                    {
                        target[0] = s0[p]; target[1] = s1[p]; target[2] = s2[p]; target[3] = s3[p];
                        target[4] = s4[p]; target[5] = s5[p]; target[6] = s6[p]; target[7] = s7[p];
                    }
                }
                for (; j < columns; j++)
                {
                    float* source = b + (nint)(jr + j) * ldb, target = packed + j;
                    for (int p = 0; p < kc; p++) target[p * nr] = source[p];
                }
                for (; j < nr; j++)
                    for (int p = 0; p < kc; p++) packed[p * nr + j] = 0;
            }
            else if (columns == nr)
            {
                float* source = b + jr;
                for (int p = 0; p < kc; p++, source += ldb)
                {
                    Store(packed + p * nr, Load<TV>(source));
                    Store(packed + p * nr + width, Load<TV>(source + width));
                }
            }
            else
            {
                float* source = b + jr;
                for (int p = 0; p < kc; p++, source += ldb)
                {
                    float* target = packed + p * nr;
                    int j = 0;
                    for (; j < columns; j++) target[j] = source[j];
                    for (; j < nr; j++) target[j] = 0;
                }
            }
        }
    }

    /// <summary>target[i·ldTarget + j] = source[j·ldSource + i] for i, j &lt; 8, in registers (AVX); source rows from
    /// <paramref name="rows"/> on are read as zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* source, int ldSource, float* target, int ldTarget, int rows = 8)
    {
        Vector256<float> Row(int i) => i < rows ? Avx.LoadVector256(source + i * ldSource) : Vector256<float>.Zero;
        Vector256<float> r0 = Row(0), r1 = Row(1), r2 = Row(2), r3 = Row(3), r4 = Row(4), r5 = Row(5), r6 = Row(6),
            r7 = Row(7);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3),
            t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7),
            t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44),
            u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44),
            u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(target, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(target + ldTarget, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(target + 2 * ldTarget, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(target + 3 * ldTarget, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(target + 4 * ldTarget, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(target + 5 * ldTarget, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(target + 6 * ldTarget, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(target + 7 * ldTarget, Avx.Permute2x128(u3, u7, 0x31));
    }

    internal static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private struct ParallelState
    {
        public bool TransposeA, TransposeB, Accumulate;
        public int M, N, K, Lda, Ldb, Ldc, RowStep, ColumnStep, ColumnParts;
        public float* A, B, C;
    }

    /// <summary>Below this many multiply-adds a GEMM runs on one thread: handing out parts costs more than it
    /// saves.</summary>
    internal const long ParallelThreshold = 32_768;

    /// <summary>Splits C into one tile per thread (whole NR panels along N when there are enough, else MR rows along
    /// M).</summary>
    internal static void MultiplyParallel<TV>(bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate) where TV : struct
    {
        int threads = Workers.ThreadCount, nr = 2 * Count<TV>();
        if (threads == 1 || (long)m * n * k < ParallelThreshold)
        {
            Multiply<TV>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        int panels = (n + nr - 1) / nr, rowTiles = (m + MR - 1) / MR;
        int columnParts = Math.Min(threads, panels);
        int rowParts = columnParts >= threads ? 1 : Math.Min(rowTiles, threads / columnParts);
        var state = new ParallelState
        {
            TransposeA = transposeA, TransposeB = transposeB, Accumulate = accumulate,
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, A = a, B = b, C = c,
            ColumnStep = (panels + columnParts - 1) / columnParts * nr,
            RowStep = (rowTiles + rowParts - 1) / rowParts * MR,
        };
        state.ColumnParts = (n + state.ColumnStep - 1) / state.ColumnStep;
        int parts = state.ColumnParts * ((m + state.RowStep - 1) / state.RowStep);
        Workers.Run(parts, &state, &ParallelPart<TV>);
    }

    private static void ParallelPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (ParallelState*)raw;
        int i0 = part / s->ColumnParts * s->RowStep, j0 = part % s->ColumnParts * s->ColumnStep;
        int rows = Math.Min(s->RowStep, s->M - i0), columns = Math.Min(s->ColumnStep, s->N - j0);
        float* a = s->TransposeA ? s->A + i0 : s->A + (nint)i0 * s->Lda;
        float* b = s->TransposeB ? s->B + (nint)j0 * s->Ldb : s->B + j0;
        Multiply<TV>(s->TransposeA, s->TransposeB, rows, columns, s->K, a, s->Lda, b, s->Ldb,
            s->C + (nint)i0 * s->Ldc + j0, s->Ldc, s->Accumulate, scratchN: s->ColumnStep);
    }
}
