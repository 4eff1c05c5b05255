using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Elementwise logistic function; backward uses the saved output: dy·y·(1 − y).</summary>
public static class Sigmoid
{
    /// <summary>output = 1/(1 + e^−input), computed without overflow for large |input|. Overwrites output.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>inputGrad += outputGrad·output·(1 − output).</summary>
    public static void Backward<T>(ReadOnlySpan<T> output, ReadOnlySpan<T> outputGrad, Span<T> inputGrad)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
