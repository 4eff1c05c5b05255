using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Fully connected layer, row-major: output = input · weightᵀ + bias.</summary>
public static class Linear
{
    /// <summary>output[n,o] = bias[o] + Σ_i input[n,i]·weight[o,i]. Overwrites output. An empty bias means none.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output, in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>inputGrad[n,i] += Σ_o outputGrad[n,o]·weight[o,i].</summary>
    public static void BackwardInput<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> weight, Span<T> inputGrad, in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>weightGrad[o,i] += Σ_n outputGrad[n,o]·input[n,i].</summary>
    public static void BackwardWeight<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> weightGrad, in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>biasGrad[o] += Σ_n outputGrad[n,o].</summary>
    public static void BackwardBias<T>(ReadOnlySpan<T> outputGrad, Span<T> biasGrad, in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
