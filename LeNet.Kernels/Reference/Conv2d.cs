using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Direct convolution, NCHW layout, scalar loops: the oracle the fast kernels are checked against.</summary>
public static class Conv2d
{
    /// <summary>output[n,k,p,q] = bias[k] + Σ_{c,r,s} input[n,c,p·stride+r−pad, q·stride+s−pad] · weight[k,c,r,s]. Overwrites output. An empty bias means none.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output, in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>inputGrad += ∂L/∂input given outputGrad [N,K,P,Q] and weight [K,C,R,S].</summary>
    public static void BackwardInput<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> weight, Span<T> inputGrad, in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>weightGrad += ∂L/∂weight given input [N,C,H,W] and outputGrad [N,K,P,Q].</summary>
    public static void BackwardWeight<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> weightGrad, in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>biasGrad[k] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public static void BackwardBias<T>(ReadOnlySpan<T> outputGrad, Span<T> biasGrad, in ConvShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
