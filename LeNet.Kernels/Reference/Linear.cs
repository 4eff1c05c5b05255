using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Fully connected layer, row-major: output = input · weightᵀ + bias.</summary>
public static class Linear
{
    /// <summary>output[n,o] = bias[o] + Σ_i input[n,i]·weight[o,i]. Overwrites output. An empty bias means
    /// none.</summary>
    public static void Forward<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> output,
        in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutFeatures, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        int I = shape.InFeatures, O = shape.OutFeatures;

        for (int n = 0; n < shape.Batch; n++)
        for (int o = 0; o < O; o++)
        {
            T sum = bias.IsEmpty ? T.Zero : bias[o];
            for (int i = 0; i < I; i++)
                sum += input[n * I + i] * weight[o * I + i];
            output[n * O + o] = sum;
        }
    }

    /// <summary>inputGrad[n,i] += Σ_o outputGrad[n,o]·weight[o,i].</summary>
    public static void BackwardInput<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> weight, Span<T> inputGrad,
        in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        int I = shape.InFeatures, O = shape.OutFeatures;

        for (int n = 0; n < shape.Batch; n++)
        for (int i = 0; i < I; i++)
        {
            T sum = T.Zero;
            for (int o = 0; o < O; o++)
                sum += outputGrad[n * O + o] * weight[o * I + i];
            inputGrad[n * I + i] += sum;
        }
    }

    /// <summary>weightGrad[o,i] += Σ_n outputGrad[n,o]·input[n,i].</summary>
    public static void BackwardWeight<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> outputGrad, Span<T> weightGrad,
        in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        int I = shape.InFeatures, O = shape.OutFeatures;

        for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++)
        {
            T sum = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
                sum += outputGrad[n * O + o] * input[n * I + i];
            weightGrad[o * I + i] += sum;
        }
    }

    /// <summary>biasGrad[o] += Σ_n outputGrad[n,o].</summary>
    public static void BackwardBias<T>(ReadOnlySpan<T> outputGrad, Span<T> biasGrad, in LinearShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutFeatures, nameof(biasGrad), shape);
        int O = shape.OutFeatures;

        for (int o = 0; o < O; o++)
        {
            T sum = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
                sum += outputGrad[n * O + o];
            biasGrad[o] += sum;
        }
    }

    private static void Validate(in LinearShape shape)
    {
        if (shape.Batch < 1 || shape.InFeatures < 1 || shape.OutFeatures < 1)
            throw new ArgumentException($"{shape} is not a valid linear shape: all sizes must be positive.",
                nameof(shape));
    }
}
