using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Elementwise hyperbolic tangent; backward uses the saved output: dy·(1 − y²).</summary>
public static class Tanh
{
    /// <summary>output = tanh(input). Overwrites output.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(output.Length, input.Length, nameof(output), nameof(input));
        for (int i = 0; i < input.Length; i++)
            output[i] = T.Tanh(input[i]);
    }

    /// <summary>inputGrad += outputGrad·(1 − output²).</summary>
    public static void Backward<T>(ReadOnlySpan<T> output, ReadOnlySpan<T> outputGrad, Span<T> inputGrad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(outputGrad.Length, output.Length, nameof(outputGrad), nameof(output));
        SpanLength.RequireSame(inputGrad.Length, output.Length, nameof(inputGrad), nameof(output));
        for (int i = 0; i < output.Length; i++)
            inputGrad[i] += outputGrad[i] * (T.One - output[i] * output[i]);
    }
}
