using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>
/// 2-D convolution, NCHW, written the obvious way with <see cref="TensorPrimitives"/>, single-threaded: each image's
/// patches are gathered into rows [PQ, CRS] (scalar im2col), then every output is one Dot of a patch with a filter
/// and the backward passes are AXPYs (MultiplyAdd) of patches and filters. The baseline for the Cpu kernels.
/// </summary>
public static class Conv2d
{
    // Per-thread patch matrix of one image, grown once per larger shape.
    [ThreadStatic] private static float[]? _patches;

    /// <summary>
    /// output[n,k,p,q] = bias[k] + Σ_{c,r,s} input[n,c,p·stride+r−pad, q·stride+s−pad] · weight[k,c,r,s]. Overwrites
    /// output. An empty bias means none.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in ConvShape shape)
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutChannels, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        var (K, crs, pq, image) = Sizes(shape);
        var patches = Patches(pq * crs);
        for (int n = 0; n < shape.Batch; n++)
        {
            Gather(input.Slice(n * image, image), patches, shape);
            for (int k = 0; k < K; k++)
            {
                var filter = weight.Slice(k * crs, crs);
                float b = bias.IsEmpty ? 0 : bias[k];
                var plane = output.Slice((n * K + k) * pq, pq);
                for (int i = 0; i < pq; i++) plane[i] = TensorPrimitives.Dot(patches.Slice(i * crs, crs), filter) + b;
            }
        }
    }

    /// <summary>inputGrad += ∂L/∂input given outputGrad [N,K,P,Q] and weight [K,C,R,S].</summary>
    public static void BackwardInput(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight, Span<float> inputGrad,
        in ConvShape shape)
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        var (K, crs, pq, image) = Sizes(shape);
        var patchGrads = Patches(pq * crs);
        for (int n = 0; n < shape.Batch; n++)
        {
            patchGrads.Clear();
            for (int i = 0; i < pq; i++)
            {
                var patch = patchGrads.Slice(i * crs, crs);
                for (int k = 0; k < K; k++)
                    TensorPrimitives.MultiplyAdd(weight.Slice(k * crs, crs), outputGrad[(n * K + k) * pq + i], patch,
                        patch);
            }
            ScatterAdd(patchGrads, inputGrad.Slice(n * image, image), shape);
        }
    }

    /// <summary>weightGrad += ∂L/∂weight given input [N,C,H,W] and outputGrad [N,K,P,Q].</summary>
    public static void BackwardWeight(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> weightGrad,
        in ConvShape shape)
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        var (K, crs, pq, image) = Sizes(shape);
        var patches = Patches(pq * crs);
        for (int n = 0; n < shape.Batch; n++)
        {
            Gather(input.Slice(n * image, image), patches, shape);
            for (int k = 0; k < K; k++)
            {
                var filterGrad = weightGrad.Slice(k * crs, crs);
                for (int i = 0; i < pq; i++)
                    TensorPrimitives.MultiplyAdd(patches.Slice(i * crs, crs), outputGrad[(n * K + k) * pq + i],
                        filterGrad, filterGrad);
            }
        }
    }

    /// <summary>biasGrad[k] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public static void BackwardBias(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in ConvShape shape)
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutChannels, nameof(biasGrad), shape);
        int K = shape.OutChannels, pq = shape.OutHeight * shape.OutWidth;
        for (int n = 0; n < shape.Batch; n++)
        for (int k = 0; k < K; k++)
            biasGrad[k] += TensorPrimitives.Sum(outputGrad.Slice((n * K + k) * pq, pq));
    }

    private static (int K, int Crs, int Pq, int Image) Sizes(in ConvShape shape) =>
        (shape.OutChannels, shape.InChannels * shape.KernelHeight * shape.KernelWidth, shape.OutHeight * shape.OutWidth,
            shape.InChannels * shape.Height * shape.Width);

    private static Span<float> Patches(int length)
    {
        if (_patches is null || _patches.Length < length) _patches = new float[length];
        return _patches.AsSpan(0, length);
    }

    /// <summary>
    /// patches[p·Q + q, (c·R + r)·S + s] = image[c, p·stride + r − pad, q·stride + s − pad], zero outside.
    /// </summary>
    private static void Gather(ReadOnlySpan<float> image, Span<float> patches, in ConvShape shape)
    {
        int C = shape.InChannels, H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth;
        int i = 0;
        for (int p = 0; p < shape.OutHeight; p++)
        for (int q = 0; q < shape.OutWidth; q++)
        for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        {
            int h = p * shape.Stride + r - shape.Padding;
            for (int s = 0; s < S; s++, i++)
            {
                int w = q * shape.Stride + s - shape.Padding;
                patches[i] = h < 0 || h >= H || w < 0 || w >= W ? 0 : image[(c * H + h) * W + w];
            }
        }
    }

    /// <summary>image += the adjoint of <see cref="Gather"/> applied to patchGrads.</summary>
    private static void ScatterAdd(ReadOnlySpan<float> patchGrads, Span<float> image, in ConvShape shape)
    {
        int C = shape.InChannels, H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth;
        int i = 0;
        for (int p = 0; p < shape.OutHeight; p++)
        for (int q = 0; q < shape.OutWidth; q++)
        for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        {
            int h = p * shape.Stride + r - shape.Padding;
            for (int s = 0; s < S; s++, i++)
            {
                int w = q * shape.Stride + s - shape.Padding;
                if (h >= 0 && h < H && w >= 0 && w < W) image[(c * H + h) * W + w] += patchGrads[i];
            }
        }
    }

    private static void Validate(in ConvShape shape)
    {
        if (shape.Batch < 1 || shape.InChannels < 1 || shape.Height < 1 || shape.Width < 1 || shape.OutChannels < 1
            || shape.KernelHeight < 1 || shape.KernelWidth < 1 || shape.Stride < 1 || shape.Padding < 0)
            throw new ArgumentException(
                $"{shape} is not a valid convolution: sizes and stride must be positive and padding non-negative.",
                nameof(shape));
        if (shape.Height + 2 * shape.Padding < shape.KernelHeight
            || shape.Width + 2 * shape.Padding < shape.KernelWidth)
            throw new ArgumentException(
                $"{shape} is not a valid convolution: the kernel is larger than the padded input.", nameof(shape));
    }
}
