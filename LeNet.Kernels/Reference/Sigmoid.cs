using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Elementwise logistic function; backward uses the saved output: dy·y·(1 − y).</summary>
public static class Sigmoid
{
    /// <summary>output = 1/(1 + e^−input), computed without overflow for large |input|. Overwrites output.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(output.Length, input.Length, nameof(output), nameof(input));
        for (int i = 0; i < input.Length; i++)
        {
            T x = input[i];
            if (x >= T.Zero)
            {
                output[i] = T.One / (T.One + T.Exp(-x));
            }
            else
            {
                // e^x instead of e^−x, so a large negative input underflows to 0 rather than overflowing to ∞.
                T e = T.Exp(x);
                output[i] = e / (T.One + e);
            }
        }
    }

    /// <summary>inputGrad += outputGrad·output·(1 − output).</summary>
    public static void Backward<T>(ReadOnlySpan<T> output, ReadOnlySpan<T> outputGrad, Span<T> inputGrad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(outputGrad.Length, output.Length, nameof(outputGrad), nameof(output));
        SpanLength.RequireSame(inputGrad.Length, output.Length, nameof(inputGrad), nameof(output));
        for (int i = 0; i < output.Length; i++)
            inputGrad[i] += outputGrad[i] * output[i] * (T.One - output[i]);
    }
}
