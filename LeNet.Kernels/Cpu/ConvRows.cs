using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Stride-1 weight-gradient micro-kernel with the output positions in the vector lanes: <see cref="Rows"/> output
/// channels × up to four kernel taps of accumulators, each a vector of partial sums over positions, every operand a
/// plain vector load (the output gradient rows widened to the padded image's row length, the image read in place at
/// the tap's offset), reduced across the lanes only once at the end. It suits few output channels and a long
/// reduction (LeNet's conv1: 6 channels, 25 taps, 784 positions per image), where channels in the lanes would waste
/// them.
/// </summary>
internal static unsafe class ConvRows
{
    /// <summary>Output channels per tile: rows of the widened output gradient, zero past the real channels.</summary>
    public const int Rows = 6;

    /// <summary>Taps per tile: 6·taps accumulators, the taps' image vectors and one gradient vector must fit the
    /// registers (32 with AVX-512, else 16).</summary>
    public static int MaxTaps => Avx512F.IsSupported ? 4 : 2;

    /// <summary>
    /// result[k·ldResult + t] = Σ_{i &lt; images} Σ_{j &lt; length} grad[i·gradImageStride + k·ldGrad + j] ·
    /// image[i·imageStride + tapOffsets[t] + j] for k &lt; <see cref="Rows"/>, t &lt; taps; length a multiple of TV's
    /// width. Each sum is taken in lanes j mod width, images and j in order, then across the lanes in a fixed order.
    /// </summary>
    public static void TapsTile<TV>(int taps, int images, float* image, int imageStride, int* tapOffsets, float* grad,
        int ldGrad, int gradImageStride, int length, float* result, int ldResult) where TV : struct
    {
        switch (taps)
        {
            case 1:
                TapsTile<TV, ConvLanes.R1>(images, image, imageStride, tapOffsets, grad, ldGrad, gradImageStride,
                    length, result, ldResult);
                break;
            case 2:
                TapsTile<TV, ConvLanes.R2>(images, image, imageStride, tapOffsets, grad, ldGrad, gradImageStride,
                    length, result, ldResult);
                break;
            case 3:
                TapsTile<TV, ConvLanes.R3>(images, image, imageStride, tapOffsets, grad, ldGrad, gradImageStride,
                    length, result, ldResult);
                break;
            case 4:
                TapsTile<TV, ConvLanes.R4>(images, image, imageStride, tapOffsets, grad, ldGrad, gradImageStride,
                    length, result, ldResult);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(taps), taps, "A tile has 1 to 4 taps.");
        }
    }

    private static void TapsTile<TV, TT>(int images, float* image, int imageStride, int* tapOffsets, float* grad,
        int ldGrad, int gradImageStride, int length, float* result, int ldResult)
        where TV : struct where TT : struct, ConvLanes.IRowCount
    {
        int width = Count<TV>();
        nint o0 = tapOffsets[0], o1 = TT.Value > 1 ? tapOffsets[1] : o0, o2 = TT.Value > 2 ? tapOffsets[2] : o0,
            o3 = TT.Value > 3 ? tapOffsets[3] : o0;
        TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default,
            c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default,
            c33 = default;
        TV c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default,
            c53 = default;
        for (int i = 0; i < images; i++)
        {
            float* x = image + (nint)i * imageStride, g = grad + (nint)i * gradImageStride;
            for (int j = 0; j < length; j += width)
            {
                TV x0 = Load<TV>(x + o0 + j);
                TV x1 = TT.Value > 1 ? Load<TV>(x + o1 + j) : default;
                TV x2 = TT.Value > 2 ? Load<TV>(x + o2 + j) : default;
                TV x3 = TT.Value > 3 ? Load<TV>(x + o3 + j) : default;
                TV d = Load<TV>(g + j);
                c00 = MultiplyAdd(d, x0, c00);
                if (TT.Value > 1) c01 = MultiplyAdd(d, x1, c01);
                if (TT.Value > 2) c02 = MultiplyAdd(d, x2, c02);
                if (TT.Value > 3) c03 = MultiplyAdd(d, x3, c03);
                d = Load<TV>(g + ldGrad + j);
                c10 = MultiplyAdd(d, x0, c10);
                if (TT.Value > 1) c11 = MultiplyAdd(d, x1, c11);
                if (TT.Value > 2) c12 = MultiplyAdd(d, x2, c12);
                if (TT.Value > 3) c13 = MultiplyAdd(d, x3, c13);
                d = Load<TV>(g + 2 * ldGrad + j);
                c20 = MultiplyAdd(d, x0, c20);
                if (TT.Value > 1) c21 = MultiplyAdd(d, x1, c21);
                if (TT.Value > 2) c22 = MultiplyAdd(d, x2, c22);
                if (TT.Value > 3) c23 = MultiplyAdd(d, x3, c23);
                d = Load<TV>(g + 3 * ldGrad + j);
                c30 = MultiplyAdd(d, x0, c30);
                if (TT.Value > 1) c31 = MultiplyAdd(d, x1, c31);
                if (TT.Value > 2) c32 = MultiplyAdd(d, x2, c32);
                if (TT.Value > 3) c33 = MultiplyAdd(d, x3, c33);
                d = Load<TV>(g + 4 * ldGrad + j);
                c40 = MultiplyAdd(d, x0, c40);
                if (TT.Value > 1) c41 = MultiplyAdd(d, x1, c41);
                if (TT.Value > 2) c42 = MultiplyAdd(d, x2, c42);
                if (TT.Value > 3) c43 = MultiplyAdd(d, x3, c43);
                d = Load<TV>(g + 5 * ldGrad + j);
                c50 = MultiplyAdd(d, x0, c50);
                if (TT.Value > 1) c51 = MultiplyAdd(d, x1, c51);
                if (TT.Value > 2) c52 = MultiplyAdd(d, x2, c52);
                if (TT.Value > 3) c53 = MultiplyAdd(d, x3, c53);
            }
        }
        StoreRow<TV, TT>(result, c00, c01, c02, c03);
        StoreRow<TV, TT>(result + ldResult, c10, c11, c12, c13);
        StoreRow<TV, TT>(result + 2 * ldResult, c20, c21, c22, c23);
        StoreRow<TV, TT>(result + 3 * ldResult, c30, c31, c32, c33);
        StoreRow<TV, TT>(result + 4 * ldResult, c40, c41, c42, c43);
        StoreRow<TV, TT>(result + 5 * ldResult, c50, c51, c52, c53);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TV, TT>(float* row, TV v0, TV v1, TV v2, TV v3)
        where TV : struct where TT : struct, ConvLanes.IRowCount
    {
        row[0] = Sum(v0);
        if (TT.Value > 1) row[1] = Sum(v1);
        if (TT.Value > 2) row[2] = Sum(v2);
        if (TT.Value > 3) row[3] = Sum(v3);
    }
}
