using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Elementwise hyperbolic tangent; backward uses the saved output: dy·(1 − y²).</summary>
public static class Tanh
{
    /// <summary>output = tanh(input). Overwrites output.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>inputGrad += outputGrad·(1 − output²).</summary>
    public static void Backward<T>(ReadOnlySpan<T> output, ReadOnlySpan<T> outputGrad, Span<T> inputGrad)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
