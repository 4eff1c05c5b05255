using System.Runtime.Intrinsics;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// 2-D convolution, NCHW, as GEMMs per image, images split across the workers: forward out_n[K, PQ] =
/// W[K, CRS]·col_n[CRS, PQ] + bias (implicit, read straight from the padded image, at stride 1; im2col otherwise);
/// input gradient col2im(Wᵀ·dOut_n) with the packed <see cref="Gemm"/>; weight gradient Σ_n dOut_n·col_nᵀ as long dot
/// products (<see cref="GemmDot"/>) over fixed parts of <see cref="ImagesPerPart"/> images, the parts added in order.
/// </summary>
public static unsafe class Conv2d
{
    /// <summary>Images per part of a batch reduction: fixed, so the summation order never depends on the thread count.</summary>
    internal const int ImagesPerPart = 8;

    /// <summary>output[n,k,p,q] = bias[k] + Σ_{c,r,s} input[n,c,p·stride+r−pad, q·stride+s−pad] · weight[k,c,r,s]. Overwrites output. An empty bias means none.</summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: Forward<Vector512<float>>(input, weight, bias, output, shape); break;
            case 256: Forward<Vector256<float>>(input, weight, bias, output, shape); break;
            default: Forward<Vector128<float>>(input, weight, bias, output, shape); break;
        }
    }

    /// <summary>inputGrad += ∂L/∂input given outputGrad [N,K,P,Q] and weight [K,C,R,S].</summary>
    public static void BackwardInput(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight, Span<float> inputGrad, in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardInput<Vector512<float>>(outputGrad, weight, inputGrad, shape); break;
            case 256: BackwardInput<Vector256<float>>(outputGrad, weight, inputGrad, shape); break;
            default: BackwardInput<Vector128<float>>(outputGrad, weight, inputGrad, shape); break;
        }
    }

    /// <summary>weightGrad += ∂L/∂weight given input [N,C,H,W] and outputGrad [N,K,P,Q].</summary>
    public static void BackwardWeight(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> weightGrad, in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardWeight<Vector512<float>>(input, outputGrad, weightGrad, shape); break;
            case 256: BackwardWeight<Vector256<float>>(input, outputGrad, weightGrad, shape); break;
            default: BackwardWeight<Vector128<float>>(input, outputGrad, weightGrad, shape); break;
        }
    }

    /// <summary>biasGrad[k] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public static void BackwardBias(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardBias<Vector512<float>>(outputGrad, biasGrad, shape); break;
            case 256: BackwardBias<Vector256<float>>(outputGrad, biasGrad, shape); break;
            default: BackwardBias<Vector128<float>>(outputGrad, biasGrad, shape); break;
        }
    }

    /// <summary>What a part needs: the shape and the pinned spans of one kernel call.</summary>
    private struct State
    {
        public ConvShape Shape;
        public float* Input, Weight, Bias, Output, Partials;
    }

    // Per-thread scratch: the im2col matrix of one image (forward, weight gradient) or its gradient (input gradient).
    [ThreadStatic] private static float[]? _col;
    // The caller's per-part partial sums of a reduction (only the calling thread of a kernel uses this slot).
    [ThreadStatic] private static float[]? _partials;

    internal static void Forward<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, in ConvShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutChannels, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        fixed (float* x = input, w = weight, b = bias, y = output)
        {
            var state = new State { Shape = shape, Input = x, Weight = w, Bias = bias.IsEmpty ? null : b, Output = y };
            Workers.Run(shape.Batch, &state, &ForwardImage<TV>);
        }
    }

    // Per-thread scratch of the forward pass: one zero-padded image, and the row offsets of B (one per kernel tap).
    [ThreadStatic] private static float[]? _paddedImage, _tapOffsets;

    private static void ForwardImage<TV>(void* raw, int n) where TV : struct
    {
        var s = (State*)raw;
        if (s->Shape.Stride == 1) ForwardImageImplicit<TV>(s, n);
        else ForwardImageIm2Col<TV>(s, n);
    }

    /// <summary>
    /// Stride 1, implicit GEMM: with the image zero-padded to [C, Hp, Wp], output position i = p·Wp + q reads tap
    /// (c, r, s) at c·Hp·Wp + r·Wp + s + i, so row (c, r, s) of B is the padded image itself from that offset on and
    /// nothing is gathered. Positions with q ≥ Q are computed and dropped when the result is compacted into output.
    /// </summary>
    private static void ForwardImageImplicit<TV>(State* s, int n) where TV : struct
    {
        ref readonly var shape = ref s->Shape;
        int C = shape.InChannels, H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth, K = shape.OutChannels;
        int P = shape.OutHeight, Q = shape.OutWidth, pad = shape.Padding, Hp = H + 2 * pad, Wp = W + 2 * pad, plane = Hp * Wp;
        int crs = C * R * S, positions = P * Wp, nr = 2 * Count<TV>();
        // The GEMM reads B rows up to RoundUp(positions, NR): past the padded image by at most S + NR, kept zero.
        int imageLength = C * plane, slack = S + nr;
        float* image = GemmScratch.Get(ref _paddedImage, imageLength + slack);
        float* source = s->Input + (nint)n * C * H * W;
        if (pad == 0)
            Copy<TV>(image, source, imageLength);
        else
        {
            new Span<float>(image, imageLength).Clear();
            for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                Copy<TV>(image + (nint)c * plane + (h + pad) * Wp + pad, source + ((nint)c * H + h) * W, W);
        }
        new Span<float>(image + imageLength, slack).Clear();

        int* offsets = (int*)GemmScratch.Get(ref _tapOffsets, crs);
        for (int c = 0, tap = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        for (int t = 0; t < S; t++, tap++)
            offsets[tap] = c * plane + r * Wp + t;

        float* wide = GemmScratch.Get(ref _col, K * positions);
        Gemm.MultiplyInPlaceB<TV>(K, positions, crs, s->Weight, crs, image, offsets, wide, positions, accumulate: false);

        float* output = s->Output + (nint)n * K * P * Q;
        for (int k = 0; k < K; k++)
        {
            float bias = s->Bias != null ? s->Bias[k] : 0;
            for (int p = 0; p < P; p++)
                CopyAdd<TV>(output + ((nint)k * P + p) * Q, wide + (nint)k * positions + p * Wp, bias, Q);
        }
    }

    /// <summary>Any stride: the image's im2col matrix [CRS, PQ] (rows padded to whole NR panels), multiplied in place.</summary>
    private static void ForwardImageIm2Col<TV>(State* s, int n) where TV : struct
    {
        ref readonly var shape = ref s->Shape;
        int crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        int ldCol = Gemm.RoundUp(pq, 2 * Count<TV>());
        float* col = GemmScratch.Get(ref _col, crs * ldCol);
        Im2Col.Gather<TV>(s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, col, ldCol, ldCol, shape);
        int* offsets = (int*)GemmScratch.Get(ref _tapOffsets, crs);
        for (int row = 0; row < crs; row++) offsets[row] = row * ldCol;
        float* output = s->Output + (nint)n * shape.OutChannels * pq;
        if (s->Bias != null)
            for (int k = 0; k < shape.OutChannels; k++) Fill<TV>(output + (nint)k * pq, s->Bias[k], pq);
        Gemm.MultiplyInPlaceB<TV>(shape.OutChannels, pq, crs, s->Weight, crs, col, offsets, output, pq, accumulate: s->Bias != null);
    }

    internal static void BackwardInput<TV>(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight, Span<float> inputGrad, in ConvShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        fixed (float* dy = outputGrad, w = weight, dx = inputGrad)
        {
            var state = new State { Shape = shape, Output = dy, Weight = w, Input = dx };
            Workers.Run(shape.Batch, &state, &BackwardInputImage<TV>);
        }
    }

    private static void BackwardInputImage<TV>(void* raw, int n) where TV : struct
    {
        var s = (State*)raw;
        ref readonly var shape = ref s->Shape;
        int crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        float* colGrad = GemmScratch.Get(ref _col, crs * pq);
        // colGrad[CRS, PQ] = Wᵀ · outputGrad_n, then scattered back onto the image it was gathered from.
        Gemm.Multiply<TV>(true, false, crs, pq, shape.OutChannels, s->Weight, crs,
            s->Output + (nint)n * shape.OutChannels * pq, pq, colGrad, pq, accumulate: false);
        Im2Col.ScatterAdd<TV>(colGrad, pq, s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, shape);
    }

    internal static void BackwardWeight<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> weightGrad, in ConvShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        int parts = (shape.Batch + ImagesPerPart - 1) / ImagesPerPart, length = shape.WeightLength;
        float* partials = GemmScratch.Get(ref _partials, parts * length);
        fixed (float* x = input, dy = outputGrad, dw = weightGrad)
        {
            var state = new State { Shape = shape, Input = x, Output = dy, Partials = partials };
            Workers.Run(parts, &state, &BackwardWeightPart<TV>);
            AddPartials<TV>(partials, parts, length, dw);
        }
    }

    // Per-thread scratch of a weight-gradient part: the part's output gradients, rows padded like col's.
    [ThreadStatic] private static float[]? _outputGradRows;

    private static void BackwardWeightPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (State*)raw;
        ref readonly var shape = ref s->Shape;
        int K = shape.OutChannels, crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        int first = part * ImagesPerPart, count = Math.Min(shape.Batch, first + ImagesPerPart) - first;
        // The part's images side by side along the reduction: col [CRS, count·ldImage] and outputGrad [K, count·ldImage],
        // each image's PQ columns zero-padded to whole vectors, so that partial = outputGrad · colᵀ is one long dot product per element.
        int ldImage = Gemm.RoundUp(pq, Count<TV>()), ld = ImagesPerPart * ldImage, length = count * ldImage;
        float* col = GemmScratch.Get(ref _col, crs * ld);
        float* outputGrad = GemmScratch.Get(ref _outputGradRows, K * ld);
        for (int i = 0; i < count; i++)
        {
            int n = first + i;
            Im2Col.Gather<TV>(s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, col + i * ldImage, ld, ldImage, shape);
            for (int k = 0; k < K; k++)
            {
                float* row = outputGrad + (nint)k * ld + i * ldImage;
                Copy<TV>(row, s->Output + ((nint)n * K + k) * pq, pq);
                for (int j = pq; j < ldImage; j++) row[j] = 0;
            }
        }
        GemmDot.MultiplyTransposedB<TV>(K, crs, length, outputGrad, ld, col, ld, s->Partials + (nint)part * K * crs, crs, accumulate: false);
    }

    internal static void BackwardBias<TV>(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in ConvShape shape) where TV : struct
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutChannels, nameof(biasGrad), shape);
        int parts = (shape.Batch + ImagesPerPart - 1) / ImagesPerPart;
        float* partials = GemmScratch.Get(ref _partials, parts * shape.OutChannels);
        fixed (float* dy = outputGrad, db = biasGrad)
        {
            var state = new State { Shape = shape, Output = dy, Partials = partials };
            Workers.Run(parts, &state, &BackwardBiasPart<TV>);
            AddPartials<TV>(partials, parts, shape.OutChannels, db);
        }
    }

    private static void BackwardBiasPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (State*)raw;
        int K = s->Shape.OutChannels, pq = s->Shape.OutHeight * s->Shape.OutWidth;
        float* partial = s->Partials + (nint)part * K;
        int first = part * ImagesPerPart, end = Math.Min(s->Shape.Batch, first + ImagesPerPart);
        for (int k = 0; k < K; k++)
        {
            float sum = 0;
            for (int n = first; n < end; n++) sum += Sum<TV>(s->Output + ((nint)n * K + k) * pq, pq);
            partial[k] = sum;
        }
    }

    /// <summary>target += partial_0 + partial_1 + …, the partials added in part order.</summary>
    private static void AddPartials<TV>(float* partials, int parts, int length, float* target) where TV : struct
    {
        for (int part = 1; part < parts; part++) AddTo<TV>(partials, partials + (nint)part * length, length);
        AddTo<TV>(target, partials, length);
    }

    private static void Validate(in ConvShape shape)
    {
        if (shape.Batch < 1 || shape.InChannels < 1 || shape.Height < 1 || shape.Width < 1 || shape.OutChannels < 1
            || shape.KernelHeight < 1 || shape.KernelWidth < 1 || shape.Stride < 1 || shape.Padding < 0)
            throw new ArgumentException($"{shape} is not a valid convolution: sizes and stride must be positive and padding non-negative.", nameof(shape));
        if (shape.Height + 2 * shape.Padding < shape.KernelHeight || shape.Width + 2 * shape.Padding < shape.KernelWidth)
            throw new ArgumentException($"{shape} is not a valid convolution: the kernel is larger than the padded input.", nameof(shape));
    }
}
