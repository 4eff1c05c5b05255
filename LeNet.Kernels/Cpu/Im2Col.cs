using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// The im2col matrix of one image [C, H, W]: col[(c·R + r)·S + s, p·Q + q] = image[c, p·stride + r − pad,
/// q·stride + s − pad] (zero outside the image), rows ldCol apart; and its adjoint, the scatter-add of such a matrix
/// back onto an image.
/// With stride 1 every output row of a col row is one contiguous run of the image row, so both are block copies/adds.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>Writes the im2col matrix of <paramref name="image"/> into col, rows ldCol apart; columns
    /// PQ .. rowLength of each row are zeroed.</summary>
    public static void Gather<TV>(float* image, float* col, int ldCol, int rowLength, in ConvShape shape)
        where TV : struct
    {
        int H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth;
        int P = shape.OutHeight, Q = shape.OutWidth, stride = shape.Stride, pad = shape.Padding, PQ = P * Q;
        float* row = col;
        for (int c = 0; c < shape.InChannels; c++)
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++, row += ldCol)
        {
            var (qLow, qHigh) = ValidColumns(s, Q, W, stride, pad);
            for (int p = 0; p < P; p++)
            {
                float* target = row + p * Q;
                int h = p * stride + r - pad;
                if (h < 0 || h >= H || qLow > qHigh)
                {
                    new Span<float>(target, Q).Clear();
                    continue;
                }
                float* source = image + ((nint)c * H + h) * W + s - pad;
                for (int q = 0; q < qLow; q++) target[q] = 0;
                if (stride == 1)
                    Copy<TV>(target + qLow, source + qLow, qHigh - qLow + 1);
                else
                    for (int q = qLow; q <= qHigh; q++) target[q] = source[q * stride];
                for (int q = qHigh + 1; q < Q; q++) target[q] = 0;
            }
            for (int i = PQ; i < rowLength; i++) row[i] = 0;
        }
    }

    /// <summary>image += the adjoint of <see cref="Gather{TV}"/> applied to col: each col element added onto the image
    /// element it was read from.</summary>
    public static void ScatterAdd<TV>(float* col, int ldCol, float* image, in ConvShape shape) where TV : struct
    {
        int H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth;
        int P = shape.OutHeight, Q = shape.OutWidth, stride = shape.Stride, pad = shape.Padding;
        float* row = col;
        for (int c = 0; c < shape.InChannels; c++)
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++, row += ldCol)
        {
            var (qLow, qHigh) = ValidColumns(s, Q, W, stride, pad);
            if (qLow > qHigh) continue;
            for (int p = 0; p < P; p++)
            {
                int h = p * stride + r - pad;
                if (h < 0 || h >= H) continue;
                float* source = row + p * Q, target = image + ((nint)c * H + h) * W + s - pad;
                if (stride == 1)
                    AddTo<TV>(target + qLow, source + qLow, qHigh - qLow + 1);
                else
                    for (int q = qLow; q <= qHigh; q++) target[q * stride] += source[q];
            }
        }
    }

    /// <summary>The output columns q whose input column q·stride + s − pad lies inside [0, W): qLow ..= qHigh (empty if
    /// qLow &gt; qHigh).</summary>
    private static (int Low, int High) ValidColumns(int s, int Q, int W, int stride, int pad)
    {
        int low = pad - s > 0 ? (pad - s + stride - 1) / stride : 0;
        int last = W - 1 + pad - s;
        int high = last < 0 ? -1 : Math.Min(Q - 1, last / stride);
        return (low, high);
    }
}
