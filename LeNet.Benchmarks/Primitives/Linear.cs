using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>
/// Fully connected layer, row-major, written the obvious way with <see cref="TensorPrimitives"/> (one dot or AXPY per
/// row pair), single-threaded: the baseline the hand-written Cpu kernels are measured against.
/// </summary>
public static class Linear
{
    /// <summary>
    /// output[n,o] = bias[o] + Σ_i input[n,i]·weight[o,i]. Overwrites output. An empty bias means none.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in LinearShape shape)
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutFeatures, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        int I = shape.InFeatures, O = shape.OutFeatures;
        for (int n = 0; n < shape.Batch; n++)
        {
            var row = input.Slice(n * I, I);
            for (int o = 0; o < O; o++)
                output[n * O + o] = TensorPrimitives.Dot(row, weight.Slice(o * I, I)) + (bias.IsEmpty ? 0 : bias[o]);
        }
    }

    /// <summary>inputGrad[n,i] += Σ_o outputGrad[n,o]·weight[o,i].</summary>
    public static void BackwardInput(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight, Span<float> inputGrad,
        in LinearShape shape)
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        int I = shape.InFeatures, O = shape.OutFeatures;
        for (int n = 0; n < shape.Batch; n++)
        {
            var row = inputGrad.Slice(n * I, I);
            for (int o = 0; o < O; o++)
                TensorPrimitives.MultiplyAdd(weight.Slice(o * I, I), outputGrad[n * O + o], row, row);
        }
    }

    /// <summary>weightGrad[o,i] += Σ_n outputGrad[n,o]·input[n,i].</summary>
    public static void BackwardWeight(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> weightGrad,
        in LinearShape shape)
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        int I = shape.InFeatures, O = shape.OutFeatures;
        for (int o = 0; o < O; o++)
        {
            var row = weightGrad.Slice(o * I, I);
            for (int n = 0; n < shape.Batch; n++)
                TensorPrimitives.MultiplyAdd(input.Slice(n * I, I), outputGrad[n * O + o], row, row);
        }
    }

    /// <summary>biasGrad[o] += Σ_n outputGrad[n,o].</summary>
    public static void BackwardBias(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in LinearShape shape)
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutFeatures, nameof(biasGrad), shape);
        int O = shape.OutFeatures;
        for (int n = 0; n < shape.Batch; n++)
            TensorPrimitives.Add(biasGrad, outputGrad.Slice(n * O, O), biasGrad);
    }

    private static void Validate(in LinearShape shape)
    {
        if (shape.Batch < 1 || shape.InFeatures < 1 || shape.OutFeatures < 1)
            throw new ArgumentException($"{shape} is not a valid linear shape: all sizes must be positive.",
                nameof(shape));
    }
}
