// ReLU written the obvious way with TensorPrimitives, for benchmark comparison with the hand-written Cpu kernel.
using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>Elementwise max(x, 0) by TensorPrimitives; same semantics as the Reference kernel.</summary>
public static class ReLU
{
    /// <summary>output = max(input, 0). Overwrites output; output may alias input.</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        SpanLength.RequireSame(output.Length, input.Length, nameof(output), nameof(input));
        TensorPrimitives.Max(input, 0f, output);
    }

    /// <summary>
    /// inputGrad += outputGrad where input &gt; 0. No TensorPrimitives operation selects by a mask, so this is a plain
    /// loop.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> inputGrad)
    {
        SpanLength.RequireSame(outputGrad.Length, input.Length, nameof(outputGrad), nameof(input));
        SpanLength.RequireSame(inputGrad.Length, input.Length, nameof(inputGrad), nameof(input));
        for (int i = 0; i < input.Length; i++)
            if (input[i] > 0)
                inputGrad[i] += outputGrad[i];
    }
}
