// Flat elementwise logistic: forward by TensorPrimitives (vectorised exp, no overflow), backward dy·y·(1 − y) in SIMD.
using System.Numerics.Tensors;

namespace LeNet.Kernels.Cpu;

/// <summary>Elementwise logistic function; backward uses the saved output: dy·y·(1 − y).</summary>
public static class Sigmoid
{
    /// <summary>output = 1/(1 + e^−input); saturates to 0 or 1 for large |input| without overflow. Overwrites output;
    /// output may alias input.</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output) =>
        SaturatingActivation<Function>.Forward(input, output);

    /// <summary>inputGrad += outputGrad·output·(1 − output).</summary>
    public static void Backward(ReadOnlySpan<float> output, ReadOnlySpan<float> outputGrad, Span<float> inputGrad) =>
        SaturatingActivation<Function>.Backward(output, outputGrad, inputGrad);

    private readonly struct Function : IActivationOfOutput
    {
        public static void Apply(ReadOnlySpan<float> input, Span<float> output) =>
            TensorPrimitives.Sigmoid(input, output);

        public static TV Derivative<TV, TS>(TV y) where TV : struct where TS : IElementwiseSimd<TV> =>
            TS.Multiply(y, TS.Subtract(TS.Splat(1f), y));

        public static float Derivative(float y) => y * (1f - y);
    }
}
