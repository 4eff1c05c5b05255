// Flat elementwise tanh: forward by TensorPrimitives (vectorised, measured fastest), backward dy·(1 − y²) in SIMD.
using System.Numerics.Tensors;

namespace LeNet.Kernels.Cpu;

/// <summary>Elementwise hyperbolic tangent; backward uses the saved output: dy·(1 − y²).</summary>
public static class Tanh
{
    /// <summary>output = tanh(input). Overwrites output; output may alias input.</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output) =>
        SaturatingActivation<Function>.Forward(input, output);

    /// <summary>inputGrad += outputGrad·(1 − output²).</summary>
    public static void Backward(ReadOnlySpan<float> output, ReadOnlySpan<float> outputGrad, Span<float> inputGrad) =>
        SaturatingActivation<Function>.Backward(output, outputGrad, inputGrad);

    private readonly struct Function : IActivationOfOutput
    {
        public static void Apply(ReadOnlySpan<float> input, Span<float> output) => TensorPrimitives.Tanh(input, output);

        public static TV Derivative<TV, TS>(TV y) where TV : struct where TS : IElementwiseSimd<TV> =>
            TS.MultiplyAdd(TS.Subtract(TS.Zero, y), y, TS.Splat(1f));

        public static float Derivative(float y) => MathF.FusedMultiplyAdd(-y, y, 1f);
    }
}
