using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Max pooling over NCHW; forward saves, per output, the flat input index of the maximum (first one on
/// ties).</summary>
public static class MaxPool2d
{
    /// <summary>Overwrites output [N,C,P,Q] and argmax (same length; flat indices into input).</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output, Span<int> argmax, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;

        for (int plane = 0; plane < shape.Batch * shape.Channels; plane++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            int best = (plane * H + p * shape.Stride) * W + q * shape.Stride;
            T max = input[best];
            for (int r = 0; r < shape.Kernel; r++)
            for (int s = 0; s < shape.Kernel; s++)
            {
                int i = (plane * H + p * shape.Stride + r) * W + q * shape.Stride + s;
                // Strictly greater keeps the first maximum on ties; a NaN wins so that it propagates, as in PyTorch.
                if (input[i] > max || T.IsNaN(input[i]))
                {
                    max = input[i];
                    best = i;
                }
            }
            int o = (plane * P + p) * Q + q;
            output[o] = max;
            argmax[o] = best;
        }
    }

    /// <summary>inputGrad[argmax[i]] += outputGrad[i].</summary>
    public static void Backward<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> argmax, Span<T> inputGrad,
        in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);

        for (int i = 0; i < outputGrad.Length; i++)
            inputGrad[argmax[i]] += outputGrad[i];
    }

    private static void Validate(in PoolShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Kernel < 1 || shape.Stride < 1
            || shape.Height < shape.Kernel || shape.Width < shape.Kernel)
            throw new ArgumentException(
                $"{shape} is not a valid pooling: sizes and stride must be positive and the window must fit the input.",
                nameof(shape));
    }
}
