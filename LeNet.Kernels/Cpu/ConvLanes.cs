using System.Runtime.CompilerServices;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Convolution micro-kernels with the channels of one side in the vector lanes (TN = one or two vectors of TV) and up
/// to 14 rows of scalars broadcast from a zero-padded image: no im2col, no lanes spent on positions that are dropped.
/// <see cref="PositionsTile"/> computes consecutive output positions of one row (forward at stride 1);
/// <see cref="TapsTile"/> computes kernel taps summed over every output position of some images (weight gradient).
/// Rows past TR's count are neither computed nor stored; TR is a type so that the JIT keeps the accumulators in
/// registers.
/// </summary>
internal static unsafe class ConvLanes
{
    /// <summary>The most rows a tile computes with one vector of lanes, and with two.</summary>
    public const int MaxRows = 14, MaxRowsTwoVectors = 12;

    /// <summary>
    /// tile[j·ldTile + lane] = Σ_l x[offsets[l] + j] · b[l·ldb + lane] for j &lt; rows, lanes in TN vectors: output
    /// positions x + j against taps at offsets, the weights transposed and padded, [taps, ldb].
    /// </summary>
    public static void PositionsTile<TV, TN>(int rows, int length, float* x, int* offsets, float* b, int ldb,
        float* tile, int ldTile)
        where TV : struct where TN : struct, IVectorCount
    {
        if (TN.Value == 2 && rows > MaxRowsTwoVectors)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, "A tile two vectors wide has at most 12 rows.");
        switch (rows)
        {
            case 1: PositionsTile<TV, TN, R1>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 2: PositionsTile<TV, TN, R2>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 3: PositionsTile<TV, TN, R3>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 4: PositionsTile<TV, TN, R4>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 5: PositionsTile<TV, TN, R5>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 6: PositionsTile<TV, TN, R6>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 7: PositionsTile<TV, TN, R7>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 8: PositionsTile<TV, TN, R8>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 9: PositionsTile<TV, TN, R9>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 10: PositionsTile<TV, TN, R10>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 11: PositionsTile<TV, TN, R11>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 12: PositionsTile<TV, TN, R12>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 13: PositionsTile<TV, TN, R13>(length, x, offsets, b, ldb, tile, ldTile); break;
            case 14: PositionsTile<TV, TN, R14>(length, x, offsets, b, ldb, tile, ldTile); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "A tile has 1 to 14 rows.");
        }
    }

    /// <summary>
    /// tile[j·ldTile + lane] = Σ_i Σ_{p&lt;P, q&lt;Q} images[i·imageStride + tapOffsets[j] + p·rowStep + q·columnStep]
    /// · b[((i·P + p)·Q + q)·ldb + lane] for j &lt; rows: kernel taps against the output gradients, transposed to
    /// [images·P·Q, ldb], summed over the images in order.
    /// </summary>
    public static void TapsTile<TV, TN>(int rows, int images, float* image, int imageStride, int* tapOffsets, int P,
        int Q, int rowStep, int columnStep, float* b, int ldb, float* tile, int ldTile)
        where TV : struct where TN : struct, IVectorCount
    {
        if (TN.Value == 2 && rows > MaxRowsTwoVectors)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, "A tile two vectors wide has at most 12 rows.");
        switch (rows)
        {
            case 1:
                TapsTile<TV, TN, R1>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 2:
                TapsTile<TV, TN, R2>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 3:
                TapsTile<TV, TN, R3>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 4:
                TapsTile<TV, TN, R4>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 5:
                TapsTile<TV, TN, R5>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 6:
                TapsTile<TV, TN, R6>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 7:
                TapsTile<TV, TN, R7>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 8:
                TapsTile<TV, TN, R8>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 9:
                TapsTile<TV, TN, R9>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 10:
                TapsTile<TV, TN, R10>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 11:
                TapsTile<TV, TN, R11>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 12:
                TapsTile<TV, TN, R12>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 13:
                TapsTile<TV, TN, R13>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            case 14:
                TapsTile<TV, TN, R14>(images, image, imageStride, tapOffsets, P, Q, rowStep, columnStep, b, ldb, tile,
                    ldTile);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "A tile has 1 to 14 rows.");
        }
    }

    /// <summary>Splits <paramref name="count"/> rows into tiles of at most <paramref name="maxRows"/>, as even as
    /// possible: the rows of each full tile.</summary>
    public static int TileRows(int count, int maxRows)
    {
        int tiles = (count + maxRows - 1) / maxRows;
        return (count + tiles - 1) / tiles;
    }

    [SkipLocalsInit]
    private static void PositionsTile<TV, TN, TR>(int length, float* x, int* offsets, float* b, int ldb, float* tile,
        int ldTile)
        where TV : struct where TN : struct, IVectorCount where TR : struct, IRowCount
    {
        int width = Count<TV>();
        bool two = TN.Value == 2;
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default;
        TV c7 = default, c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        TV d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default;
        TV d6 = default, d7 = default, d8 = default, d9 = default, d10 = default, d11 = default;
        for (int l = 0; l < length; l++, b += ldb)
        {
            float* s = x + offsets[l];
            TV b0 = Load<TV>(b), b1 = two ? Load<TV>(b + width) : default, a = default;
            if (two) { a = Broadcast<TV>(s[0]); c0 = MultiplyAdd(a, b0, c0); d0 = MultiplyAdd(a, b1, d0); }
            else c0 = MultiplyAdd(Broadcast<TV>(s[0]), b0, c0);
            if (TR.Value > 1)
            {
                if (two) { a = Broadcast<TV>(s[1]); c1 = MultiplyAdd(a, b0, c1); d1 = MultiplyAdd(a, b1, d1); }
                else c1 = MultiplyAdd(Broadcast<TV>(s[1]), b0, c1);
            }
            if (TR.Value > 2)
            {
                if (two) { a = Broadcast<TV>(s[2]); c2 = MultiplyAdd(a, b0, c2); d2 = MultiplyAdd(a, b1, d2); }
                else c2 = MultiplyAdd(Broadcast<TV>(s[2]), b0, c2);
            }
            if (TR.Value > 3)
            {
                if (two) { a = Broadcast<TV>(s[3]); c3 = MultiplyAdd(a, b0, c3); d3 = MultiplyAdd(a, b1, d3); }
                else c3 = MultiplyAdd(Broadcast<TV>(s[3]), b0, c3);
            }
            if (TR.Value > 4)
            {
                if (two) { a = Broadcast<TV>(s[4]); c4 = MultiplyAdd(a, b0, c4); d4 = MultiplyAdd(a, b1, d4); }
                else c4 = MultiplyAdd(Broadcast<TV>(s[4]), b0, c4);
            }
            if (TR.Value > 5)
            {
                if (two) { a = Broadcast<TV>(s[5]); c5 = MultiplyAdd(a, b0, c5); d5 = MultiplyAdd(a, b1, d5); }
                else c5 = MultiplyAdd(Broadcast<TV>(s[5]), b0, c5);
            }
            if (TR.Value > 6)
            {
                if (two) { a = Broadcast<TV>(s[6]); c6 = MultiplyAdd(a, b0, c6); d6 = MultiplyAdd(a, b1, d6); }
                else c6 = MultiplyAdd(Broadcast<TV>(s[6]), b0, c6);
            }
            if (TR.Value > 7)
            {
                if (two) { a = Broadcast<TV>(s[7]); c7 = MultiplyAdd(a, b0, c7); d7 = MultiplyAdd(a, b1, d7); }
                else c7 = MultiplyAdd(Broadcast<TV>(s[7]), b0, c7);
            }
            if (TR.Value > 8)
            {
                if (two) { a = Broadcast<TV>(s[8]); c8 = MultiplyAdd(a, b0, c8); d8 = MultiplyAdd(a, b1, d8); }
                else c8 = MultiplyAdd(Broadcast<TV>(s[8]), b0, c8);
            }
            if (TR.Value > 9)
            {
                if (two) { a = Broadcast<TV>(s[9]); c9 = MultiplyAdd(a, b0, c9); d9 = MultiplyAdd(a, b1, d9); }
                else c9 = MultiplyAdd(Broadcast<TV>(s[9]), b0, c9);
            }
            if (TR.Value > 10)
            {
                if (two) { a = Broadcast<TV>(s[10]); c10 = MultiplyAdd(a, b0, c10); d10 = MultiplyAdd(a, b1, d10); }
                else c10 = MultiplyAdd(Broadcast<TV>(s[10]), b0, c10);
            }
            if (TR.Value > 11)
            {
                if (two) { a = Broadcast<TV>(s[11]); c11 = MultiplyAdd(a, b0, c11); d11 = MultiplyAdd(a, b1, d11); }
                else c11 = MultiplyAdd(Broadcast<TV>(s[11]), b0, c11);
            }
            if (!two && TR.Value > 12) c12 = MultiplyAdd(Broadcast<TV>(s[12]), b0, c12);
            if (!two && TR.Value > 13) c13 = MultiplyAdd(Broadcast<TV>(s[13]), b0, c13);
        }
        StoreTile<TV, TN, TR>(tile, ldTile, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, d0, d1, d2, d3,
            d4, d5, d6, d7, d8, d9, d10, d11);
    }

    [SkipLocalsInit]
    private static void TapsTile<TV, TN, TR>(int images, float* image, int imageStride, int* tapOffsets, int P, int Q,
        int rowStep, int columnStep, float* b, int ldb, float* tile, int ldTile)
        where TV : struct where TN : struct, IVectorCount where TR : struct, IRowCount
    {
        int width = Count<TV>();
        bool two = TN.Value == 2;
        // Offsets of the rows relative to row 0; rows past TR repeat row 0 (never read).
        nint o1 = TR.Value > 1 ? tapOffsets[1] - tapOffsets[0] : 0,
            o2 = TR.Value > 2 ? tapOffsets[2] - tapOffsets[0] : 0;
        nint o3 = TR.Value > 3 ? tapOffsets[3] - tapOffsets[0] : 0,
            o4 = TR.Value > 4 ? tapOffsets[4] - tapOffsets[0] : 0;
        nint o5 = TR.Value > 5 ? tapOffsets[5] - tapOffsets[0] : 0,
            o6 = TR.Value > 6 ? tapOffsets[6] - tapOffsets[0] : 0;
        nint o7 = TR.Value > 7 ? tapOffsets[7] - tapOffsets[0] : 0,
            o8 = TR.Value > 8 ? tapOffsets[8] - tapOffsets[0] : 0;
        nint o9 = TR.Value > 9 ? tapOffsets[9] - tapOffsets[0] : 0,
            o10 = TR.Value > 10 ? tapOffsets[10] - tapOffsets[0] : 0;
        nint o11 = TR.Value > 11 ? tapOffsets[11] - tapOffsets[0] : 0,
            o12 = TR.Value > 12 ? tapOffsets[12] - tapOffsets[0] : 0;
        nint o13 = TR.Value > 13 ? tapOffsets[13] - tapOffsets[0] : 0;
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default;
        TV c7 = default, c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        TV d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default;
        TV d6 = default, d7 = default, d8 = default, d9 = default, d10 = default, d11 = default;
        for (int i = 0; i < images; i++)
        for (int p = 0; p < P; p++)
        {
            float* s = image + (nint)i * imageStride + tapOffsets[0] + (nint)p * rowStep;
            for (int q = 0; q < Q; q++, s += columnStep, b += ldb)
            {
                TV b0 = Load<TV>(b), b1 = two ? Load<TV>(b + width) : default, a = default;
                if (two) { a = Broadcast<TV>(s[0]); c0 = MultiplyAdd(a, b0, c0); d0 = MultiplyAdd(a, b1, d0); }
                else c0 = MultiplyAdd(Broadcast<TV>(s[0]), b0, c0);
                if (TR.Value > 1)
                {
                    if (two) { a = Broadcast<TV>(s[o1]); c1 = MultiplyAdd(a, b0, c1); d1 = MultiplyAdd(a, b1, d1); }
                    else c1 = MultiplyAdd(Broadcast<TV>(s[o1]), b0, c1);
                }
                if (TR.Value > 2)
                {
                    if (two) { a = Broadcast<TV>(s[o2]); c2 = MultiplyAdd(a, b0, c2); d2 = MultiplyAdd(a, b1, d2); }
                    else c2 = MultiplyAdd(Broadcast<TV>(s[o2]), b0, c2);
                }
                if (TR.Value > 3)
                {
                    if (two) { a = Broadcast<TV>(s[o3]); c3 = MultiplyAdd(a, b0, c3); d3 = MultiplyAdd(a, b1, d3); }
                    else c3 = MultiplyAdd(Broadcast<TV>(s[o3]), b0, c3);
                }
                if (TR.Value > 4)
                {
                    if (two) { a = Broadcast<TV>(s[o4]); c4 = MultiplyAdd(a, b0, c4); d4 = MultiplyAdd(a, b1, d4); }
                    else c4 = MultiplyAdd(Broadcast<TV>(s[o4]), b0, c4);
                }
                if (TR.Value > 5)
                {
                    if (two) { a = Broadcast<TV>(s[o5]); c5 = MultiplyAdd(a, b0, c5); d5 = MultiplyAdd(a, b1, d5); }
                    else c5 = MultiplyAdd(Broadcast<TV>(s[o5]), b0, c5);
                }
                if (TR.Value > 6)
                {
                    if (two) { a = Broadcast<TV>(s[o6]); c6 = MultiplyAdd(a, b0, c6); d6 = MultiplyAdd(a, b1, d6); }
                    else c6 = MultiplyAdd(Broadcast<TV>(s[o6]), b0, c6);
                }
                if (TR.Value > 7)
                {
                    if (two) { a = Broadcast<TV>(s[o7]); c7 = MultiplyAdd(a, b0, c7); d7 = MultiplyAdd(a, b1, d7); }
                    else c7 = MultiplyAdd(Broadcast<TV>(s[o7]), b0, c7);
                }
                if (TR.Value > 8)
                {
                    if (two) { a = Broadcast<TV>(s[o8]); c8 = MultiplyAdd(a, b0, c8); d8 = MultiplyAdd(a, b1, d8); }
                    else c8 = MultiplyAdd(Broadcast<TV>(s[o8]), b0, c8);
                }
                if (TR.Value > 9)
                {
                    if (two) { a = Broadcast<TV>(s[o9]); c9 = MultiplyAdd(a, b0, c9); d9 = MultiplyAdd(a, b1, d9); }
                    else c9 = MultiplyAdd(Broadcast<TV>(s[o9]), b0, c9);
                }
                if (TR.Value > 10)
                {
                    if (two)
                    {
                        a = Broadcast<TV>(s[o10]); c10 = MultiplyAdd(a, b0, c10); d10 = MultiplyAdd(a, b1, d10);
                    }
                    else c10 = MultiplyAdd(Broadcast<TV>(s[o10]), b0, c10);
                }
                if (TR.Value > 11)
                {
                    if (two)
                    {
                        a = Broadcast<TV>(s[o11]); c11 = MultiplyAdd(a, b0, c11); d11 = MultiplyAdd(a, b1, d11);
                    }
                    else c11 = MultiplyAdd(Broadcast<TV>(s[o11]), b0, c11);
                }
                if (!two && TR.Value > 12) c12 = MultiplyAdd(Broadcast<TV>(s[o12]), b0, c12);
                if (!two && TR.Value > 13) c13 = MultiplyAdd(Broadcast<TV>(s[o13]), b0, c13);
            }
        }
        StoreTile<TV, TN, TR>(tile, ldTile, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, d0, d1, d2, d3,
            d4, d5, d6, d7, d8, d9, d10, d11);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile<TV, TN, TR>(float* tile, int ld, TV c0, TV c1, TV c2, TV c3, TV c4, TV c5, TV c6,
        TV c7, TV c8, TV c9, TV c10, TV c11, TV c12, TV c13, TV d0, TV d1, TV d2, TV d3, TV d4, TV d5, TV d6, TV d7,
        TV d8, TV d9, TV d10, TV d11)
        where TV : struct where TN : struct, IVectorCount where TR : struct, IRowCount
    {
        int w = Count<TV>();
        bool two = TN.Value == 2;
        Store(tile, c0); if (two) Store(tile + w, d0);
        if (TR.Value > 1) { Store(tile + ld, c1); if (two) Store(tile + ld + w, d1); }
        if (TR.Value > 2) { Store(tile + 2 * ld, c2); if (two) Store(tile + 2 * ld + w, d2); }
        if (TR.Value > 3) { Store(tile + 3 * ld, c3); if (two) Store(tile + 3 * ld + w, d3); }
        if (TR.Value > 4) { Store(tile + 4 * ld, c4); if (two) Store(tile + 4 * ld + w, d4); }
        if (TR.Value > 5) { Store(tile + 5 * ld, c5); if (two) Store(tile + 5 * ld + w, d5); }
        if (TR.Value > 6) { Store(tile + 6 * ld, c6); if (two) Store(tile + 6 * ld + w, d6); }
        if (TR.Value > 7) { Store(tile + 7 * ld, c7); if (two) Store(tile + 7 * ld + w, d7); }
        if (TR.Value > 8) { Store(tile + 8 * ld, c8); if (two) Store(tile + 8 * ld + w, d8); }
        if (TR.Value > 9) { Store(tile + 9 * ld, c9); if (two) Store(tile + 9 * ld + w, d9); }
        if (TR.Value > 10) { Store(tile + 10 * ld, c10); if (two) Store(tile + 10 * ld + w, d10); }
        if (TR.Value > 11) { Store(tile + 11 * ld, c11); if (two) Store(tile + 11 * ld + w, d11); }
        if (!two && TR.Value > 12) Store(tile + 12 * ld, c12);
        if (!two && TR.Value > 13) Store(tile + 13 * ld, c13);
    }

    /// <summary>How many vectors of lanes a tile is wide: a type, so that the JIT compiles one kernel per
    /// count.</summary>
    public interface IVectorCount { static abstract int Value { get; } }
    public struct OneVector : IVectorCount { public static int Value => 1; }
    public struct TwoVectors : IVectorCount { public static int Value => 2; }

    /// <summary>How many rows a tile computes.</summary>
    public interface IRowCount { static abstract int Value { get; } }
    internal struct R1 : IRowCount { public static int Value => 1; }
    internal struct R2 : IRowCount { public static int Value => 2; }
    internal struct R3 : IRowCount { public static int Value => 3; }
    internal struct R4 : IRowCount { public static int Value => 4; }
    internal struct R5 : IRowCount { public static int Value => 5; }
    internal struct R6 : IRowCount { public static int Value => 6; }
    internal struct R7 : IRowCount { public static int Value => 7; }
    internal struct R8 : IRowCount { public static int Value => 8; }
    internal struct R9 : IRowCount { public static int Value => 9; }
    internal struct R10 : IRowCount { public static int Value => 10; }
    internal struct R11 : IRowCount { public static int Value => 11; }
    internal struct R12 : IRowCount { public static int Value => 12; }
    internal struct R13 : IRowCount { public static int Value => 13; }
    internal struct R14 : IRowCount { public static int Value => 14; }
}
