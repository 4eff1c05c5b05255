using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Average pooling over NCHW (no padding, so every window averages kernel² values).</summary>
public static class AvgPool2d
{
    /// <summary>Overwrites output [N,C,P,Q] with the mean of each window.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;
        T windowSize = T.CreateChecked(shape.Kernel * shape.Kernel);

        for (int plane = 0; plane < shape.Batch * shape.Channels; plane++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            T sum = T.Zero;
            for (int r = 0; r < shape.Kernel; r++)
            for (int s = 0; s < shape.Kernel; s++)
                sum += input[(plane * H + p * shape.Stride + r) * W + q * shape.Stride + s];
            output[(plane * P + p) * Q + q] = sum / windowSize;
        }
    }

    /// <summary>inputGrad += outputGrad spread evenly over each window.</summary>
    public static void Backward<T>(ReadOnlySpan<T> outputGrad, Span<T> inputGrad, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;
        T windowSize = T.CreateChecked(shape.Kernel * shape.Kernel);

        for (int plane = 0; plane < shape.Batch * shape.Channels; plane++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            T share = outputGrad[(plane * P + p) * Q + q] / windowSize;
            for (int r = 0; r < shape.Kernel; r++)
            for (int s = 0; s < shape.Kernel; s++)
                inputGrad[(plane * H + p * shape.Stride + r) * W + q * shape.Stride + s] += share;
        }
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
