using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Direct convolution, NCHW layout, scalar loops: the oracle the fast kernels are checked against.</summary>
public static class Conv2d
{
    /// <summary>output[n,k,p,q] = bias[k] + Σ_{c,r,s} input[n,c,p·stride+r−pad, q·stride+s−pad] · weight[k,c,r,s].
    /// Overwrites output. An empty bias means none.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output,
        in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutChannels, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        var (C, H, W, K, R, S, P, Q) = (shape.InChannels, shape.Height, shape.Width, shape.OutChannels,
            shape.KernelHeight, shape.KernelWidth, shape.OutHeight, shape.OutWidth);

        for (int n = 0; n < shape.Batch; n++)
        for (int k = 0; k < K; k++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            T sum = bias.IsEmpty ? T.Zero : bias[k];
            for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++)
            {
                int h = p * shape.Stride + r - shape.Padding;
                if (h < 0 || h >= H) continue; // zero padding contributes nothing
                for (int s = 0; s < S; s++)
                {
                    int w = q * shape.Stride + s - shape.Padding;
                    if (w < 0 || w >= W) continue;
                    sum += input[((n * C + c) * H + h) * W + w] * weight[((k * C + c) * R + r) * S + s];
                }
            }
            output[((n * K + k) * P + p) * Q + q] = sum;
        }
    }

    /// <summary>inputGrad += ∂L/∂input given outputGrad [N,K,P,Q] and weight [K,C,R,S].</summary>
    public static void BackwardInput<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> weight, Span<T> inputGrad,
        in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        var (C, H, W, K, R, S, P, Q) = (shape.InChannels, shape.Height, shape.Width, shape.OutChannels,
            shape.KernelHeight, shape.KernelWidth, shape.OutHeight, shape.OutWidth);

        // The forward loop nest, with each product's contribution scattered back onto its input element.
        for (int n = 0; n < shape.Batch; n++)
        for (int k = 0; k < K; k++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            T dy = outputGrad[((n * K + k) * P + p) * Q + q];
            for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++)
            {
                int h = p * shape.Stride + r - shape.Padding;
                if (h < 0 || h >= H) continue;
                for (int s = 0; s < S; s++)
                {
                    int w = q * shape.Stride + s - shape.Padding;
                    if (w < 0 || w >= W) continue;
                    inputGrad[((n * C + c) * H + h) * W + w] += dy * weight[((k * C + c) * R + r) * S + s];
                }
            }
        }
    }

    /// <summary>weightGrad += ∂L/∂weight given input [N,C,H,W] and outputGrad [N,K,P,Q].</summary>
    public static void BackwardWeight<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> weightGrad,
        in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        var (C, H, W, K, R, S, P, Q) = (shape.InChannels, shape.Height, shape.Width, shape.OutChannels,
            shape.KernelHeight, shape.KernelWidth, shape.OutHeight, shape.OutWidth);

        for (int k = 0; k < K; k++)
        for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
        {
            T sum = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
            for (int p = 0; p < P; p++)
            {
                int h = p * shape.Stride + r - shape.Padding;
                if (h < 0 || h >= H) continue;
                for (int q = 0; q < Q; q++)
                {
                    int w = q * shape.Stride + s - shape.Padding;
                    if (w < 0 || w >= W) continue;
                    sum += outputGrad[((n * K + k) * P + p) * Q + q] * input[((n * C + c) * H + h) * W + w];
                }
            }
            weightGrad[((k * C + c) * R + r) * S + s] += sum;
        }
    }

    /// <summary>biasGrad[k] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public static void BackwardBias<T>(ReadOnlySpan<T> outputGrad, Span<T> biasGrad, in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutChannels, nameof(biasGrad), shape);
        int K = shape.OutChannels, plane = shape.OutHeight * shape.OutWidth;

        for (int k = 0; k < K; k++)
        {
            T sum = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
            for (int i = 0; i < plane; i++)
                sum += outputGrad[(n * K + k) * plane + i];
            biasGrad[k] += sum;
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
