using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Elementwise max(x, 0); the gradient at exactly 0 is 0, as PyTorch's.</summary>
public static class ReLU
{
    /// <summary>output = max(input, 0). Overwrites output; output may alias input.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(output.Length, input.Length, nameof(output), nameof(input));
        for (int i = 0; i < input.Length; i++)
            output[i] = T.Max(input[i], T.Zero); // IEEE maximum: a NaN propagates, as in PyTorch
    }

    /// <summary>inputGrad += outputGrad where input &gt; 0.</summary>
    public static void Backward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> inputGrad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(outputGrad.Length, input.Length, nameof(outputGrad), nameof(input));
        SpanLength.RequireSame(inputGrad.Length, input.Length, nameof(inputGrad), nameof(input));
        for (int i = 0; i < input.Length; i++)
            if (input[i] > T.Zero)
                inputGrad[i] += outputGrad[i];
    }
}
