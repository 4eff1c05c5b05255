// Max pooling written the obvious way with TensorPrimitives (IndexOfMax over each window row), for benchmark
// comparison.
using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>
/// Max pooling over NCHW by TensorPrimitives; argmax is the first maximum on ties, as the Reference (NaN aside).
/// </summary>
public static class MaxPool2d
{
    /// <summary>Overwrites output [N,C,P,Q] and argmax (flat indices into input).</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, in PoolShape shape)
    {
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth, k = shape.Kernel,
            stride = shape.Stride;
        for (int plane = 0; plane < shape.Batch * shape.Channels; plane++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            int best = -1;
            float max = float.NegativeInfinity;
            for (int r = 0; r < k; r++)
            {
                int rowStart = (plane * H + p * stride + r) * W + q * stride;
                ReadOnlySpan<float> row = input.Slice(rowStart, k);
                int j = TensorPrimitives.IndexOfMax(row);
                if (best < 0 || row[j] > max) // strictly greater: an earlier row keeps a tie
                {
                    max = row[j];
                    best = rowStart + j;
                }
            }
            int o = (plane * P + p) * Q + q;
            output[o] = max;
            argmax[o] = best;
        }
    }

    /// <summary>
    /// inputGrad[argmax[i]] += outputGrad[i]: a scatter, which no TensorPrimitives operation does, so a plain loop.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, ReadOnlySpan<int> argmax, Span<float> inputGrad,
        in PoolShape shape)
    {
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        for (int i = 0; i < outputGrad.Length; i++)
            inputGrad[argmax[i]] += outputGrad[i];
    }
}
