using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Average pooling over NCHW (no padding, so every window averages kernel² values).</summary>
public static class AvgPool2d
{
    /// <summary>Overwrites output [N,C,P,Q] with the mean of each window.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, Span<T> output, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>inputGrad += outputGrad spread evenly over each window.</summary>
    public static void Backward<T>(ReadOnlySpan<T> outputGrad, Span<T> inputGrad, in PoolShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
