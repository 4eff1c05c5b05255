using System.Runtime.Intrinsics;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// 2-D convolution, NCHW, as im2col + packed <see cref="Gemm"/> per image, images split across the workers:
/// forward out_n[K, PQ] = W[K, CRS]·col_n[CRS, PQ] + bias; input gradient col2im(Wᵀ·dOut_n); weight gradient
/// Σ_n dOut_n·col_nᵀ, summed per fixed part of <see cref="ImagesPerPart"/> images and the parts added in order.
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

    private static void ForwardImage<TV>(void* raw, int n) where TV : struct
    {
        var s = (State*)raw;
        ref readonly var shape = ref s->Shape;
        int crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        int ldCol = Gemm.RoundUp(pq, 2 * Count<TV>()); // rows padded to whole NR panels: the GEMM reads B in place
        float* col = GemmScratch.Get(ref _col, crs * ldCol);
        Im2Col.Gather<TV>(s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, col, ldCol, shape);
        float* output = s->Output + (nint)n * shape.OutChannels * pq;
        if (s->Bias != null)
            for (int k = 0; k < shape.OutChannels; k++) Fill<TV>(output + (nint)k * pq, s->Bias[k], pq);
        Gemm.MultiplyInPlaceB<TV>(shape.OutChannels, pq, crs, s->Weight, crs, col, ldCol, output, pq, accumulate: s->Bias != null);
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

    private static void BackwardWeightPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (State*)raw;
        ref readonly var shape = ref s->Shape;
        int K = shape.OutChannels, crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        float* col = GemmScratch.Get(ref _col, crs * pq);
        float* partial = s->Partials + (nint)part * K * crs;
        int first = part * ImagesPerPart, end = Math.Min(shape.Batch, first + ImagesPerPart);
        for (int n = first; n < end; n++)
        {
            // partial[K, CRS] (+)= outputGrad_n[K, PQ] · col_nᵀ[PQ, CRS]
            Im2Col.Gather<TV>(s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, col, pq, shape);
            Gemm.Multiply<TV>(false, true, K, crs, pq, s->Output + (nint)n * K * pq, pq, col, pq, partial, crs, accumulate: n != first);
        }
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
