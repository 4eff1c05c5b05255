using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Max pooling over NCHW; forward saves, per output, the flat input index of the maximum (first one on ties).</summary>
public static class MaxPool2d
{
    /// <summary>Overwrites output [N,C,P,Q] and argmax (same length; flat indices into input).</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output, Span<int> argmax, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>inputGrad[argmax[i]] += outputGrad[i].</summary>
    public static void Backward<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<int> argmax, Span<T> inputGrad, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
