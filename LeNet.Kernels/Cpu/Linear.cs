using System.Runtime.Intrinsics;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>Fully connected layer, row-major [N, In] · [Out, In]ᵀ, on the packed <see cref="Gemm"/> split into tiles of
/// C across the workers.</summary>
public static unsafe class Linear
{
    /// <summary>output[n,o] = bias[o] + Σ_i input[n,i]·weight[o,i]. Overwrites output. An empty bias means
    /// none.</summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in LinearShape shape)
    {
        switch (Dispatch)
        {
            case 512: Forward<Vector512<float>>(input, weight, bias, output, shape); break;
            case 256: Forward<Vector256<float>>(input, weight, bias, output, shape); break;
            default: Forward<Vector128<float>>(input, weight, bias, output, shape); break;
        }
    }

    /// <summary>inputGrad[n,i] += Σ_o outputGrad[n,o]·weight[o,i].</summary>
    public static void BackwardInput(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight, Span<float> inputGrad,
        in LinearShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardInput<Vector512<float>>(outputGrad, weight, inputGrad, shape); break;
            case 256: BackwardInput<Vector256<float>>(outputGrad, weight, inputGrad, shape); break;
            default: BackwardInput<Vector128<float>>(outputGrad, weight, inputGrad, shape); break;
        }
    }

    /// <summary>weightGrad[o,i] += Σ_n outputGrad[n,o]·input[n,i].</summary>
    public static void BackwardWeight(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> weightGrad,
        in LinearShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardWeight<Vector512<float>>(input, outputGrad, weightGrad, shape); break;
            case 256: BackwardWeight<Vector256<float>>(input, outputGrad, weightGrad, shape); break;
            default: BackwardWeight<Vector128<float>>(input, outputGrad, weightGrad, shape); break;
        }
    }

    /// <summary>biasGrad[o] += Σ_n outputGrad[n,o].</summary>
    public static void BackwardBias(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in LinearShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardBias<Vector512<float>>(outputGrad, biasGrad, shape); break;
            case 256: BackwardBias<Vector256<float>>(outputGrad, biasGrad, shape); break;
            default: BackwardBias<Vector128<float>>(outputGrad, biasGrad, shape); break;
        }
    }

    internal static void Forward<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in LinearShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutFeatures, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        int n = shape.Batch, inFeatures = shape.InFeatures, outFeatures = shape.OutFeatures;
        fixed (float* x = input, w = weight, b = bias, y = output)
        {
            // The bias goes in first; the product is then accumulated onto it.
            if (!bias.IsEmpty)
                for (int row = 0; row < n; row++)
                    new ReadOnlySpan<float>(b, outFeatures).CopyTo(
                        new Span<float>(y + (nint)row * outFeatures, outFeatures));
            Gemm.MultiplyParallel<TV>(false, true, n, outFeatures, inFeatures, x, inFeatures, w, inFeatures, y,
                outFeatures, accumulate: !bias.IsEmpty);
        }
    }

    internal static void BackwardInput<TV>(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight,
        Span<float> inputGrad, in LinearShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        int inFeatures = shape.InFeatures, outFeatures = shape.OutFeatures;
        fixed (float* dy = outputGrad, w = weight, dx = inputGrad)
            Gemm.MultiplyParallel<TV>(false, false, shape.Batch, inFeatures, outFeatures, dy, outFeatures, w,
                inFeatures, dx, inFeatures, accumulate: true);
    }

    internal static void BackwardWeight<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        Span<float> weightGrad, in LinearShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        int inFeatures = shape.InFeatures, outFeatures = shape.OutFeatures;
        // Each element of weightGrad is one dot product over the batch, summed in the same order whatever the tiling.
        fixed (float* x = input, dy = outputGrad, dw = weightGrad)
            Gemm.MultiplyParallel<TV>(true, false, outFeatures, inFeatures, shape.Batch, dy, outFeatures, x, inFeatures,
                dw, inFeatures, accumulate: true);
    }

    internal static void BackwardBias<TV>(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in LinearShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutFeatures, nameof(biasGrad), shape);
        int outFeatures = shape.OutFeatures;
        // Column sums: rows of outputGrad added onto biasGrad one after the other (vectorised along the features).
        fixed (float* dy = outputGrad, db = biasGrad)
            for (int row = 0; row < shape.Batch; row++)
                AddTo<TV>(db, dy + (nint)row * outFeatures, outFeatures);
    }

    private static void Validate(in LinearShape shape)
    {
        if (shape.Batch < 1 || shape.InFeatures < 1 || shape.OutFeatures < 1)
            throw new ArgumentException($"{shape} is not a valid linear shape: all sizes must be positive.",
                nameof(shape));
    }
}
