using System.Runtime.Intrinsics;
using LeNet.Kernels;
using static LeNet.Tests.Kernels.GradientCheck;
using static LeNet.Tests.Kernels.Cpu.Conv2dTests;
using Fast = LeNet.Kernels.Cpu;
using Reference = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// The Cpu linear layer at each vector width, and the TensorPrimitives one, against the Reference kernel run in double
/// (normwise relative error &lt; 1e-4); backward kernels start from random gradient buffers and must add onto them.
/// </summary>
public class LinearTests
{
    public static TheoryData<string> Implementations() => Conv2dTests.Implementations();

    private delegate void ForwardKernel(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in LinearShape shape);
    private delegate void BackwardInputKernel(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight,
        Span<float> inputGrad, in LinearShape shape);
    private delegate void BackwardWeightKernel(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        Span<float> weightGrad, in LinearShape shape);
    private delegate void BackwardBiasKernel(ReadOnlySpan<float> outputGrad, Span<float> biasGrad,
        in LinearShape shape);

    private static ForwardKernel Forward(string implementation) => implementation switch
    {
        "Cpu" => Fast.Linear.Forward,
        "Cpu512" => Fast.Linear.Forward<Vector512<float>>,
        "Cpu256" => Fast.Linear.Forward<Vector256<float>>,
        "Cpu128" => Fast.Linear.Forward<Vector128<float>>,
        _ => LeNet.Benchmarks.Primitives.Linear.Forward,
    };

    private static BackwardInputKernel BackwardInput(string implementation) => implementation switch
    {
        "Cpu" => Fast.Linear.BackwardInput,
        "Cpu512" => Fast.Linear.BackwardInput<Vector512<float>>,
        "Cpu256" => Fast.Linear.BackwardInput<Vector256<float>>,
        "Cpu128" => Fast.Linear.BackwardInput<Vector128<float>>,
        _ => LeNet.Benchmarks.Primitives.Linear.BackwardInput,
    };

    internal static void BackwardWeight(string implementation, ReadOnlySpan<float> input,
        ReadOnlySpan<float> outputGrad, Span<float> weightGrad, in LinearShape shape)
    {
        BackwardWeightKernel kernel = implementation switch
        {
            "Cpu" => Fast.Linear.BackwardWeight,
            "Cpu512" => Fast.Linear.BackwardWeight<Vector512<float>>,
            "Cpu256" => Fast.Linear.BackwardWeight<Vector256<float>>,
            "Cpu128" => Fast.Linear.BackwardWeight<Vector128<float>>,
            _ => LeNet.Benchmarks.Primitives.Linear.BackwardWeight,
        };
        kernel(input, outputGrad, weightGrad, shape);
    }

    private static BackwardBiasKernel BackwardBias(string implementation) => implementation switch
    {
        "Cpu" => Fast.Linear.BackwardBias,
        "Cpu512" => Fast.Linear.BackwardBias<Vector512<float>>,
        "Cpu256" => Fast.Linear.BackwardBias<Vector256<float>>,
        "Cpu128" => Fast.Linear.BackwardBias<Vector128<float>>,
        _ => LeNet.Benchmarks.Primitives.Linear.BackwardBias,
    };

    private static void CheckAll(string implementation, LinearShape shape, int seed, bool withBias = true)
    {
        var rng = new Random(seed);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var bias = withBias ? Uniform(rng, shape.OutFeatures) : [];
        var outputGrad = Uniform(rng, shape.OutputLength);
        string name = $"{implementation} {shape}";

        var output = new double[shape.OutputLength];
        Reference.Linear.Forward<double>(input, weight, bias, output, shape);
        var outputF = ToFloat(Uniform(rng, shape.OutputLength, 50, 60));
        Forward(implementation)(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF, shape);
        AssertAgrees(output, outputF, $"{name} forward");

        var inputGrad = Uniform(rng, shape.InputLength);
        var inputGradF = ToFloat(inputGrad);
        Reference.Linear.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
        BackwardInput(implementation)(ToFloat(outputGrad), ToFloat(weight), inputGradF, shape);
        AssertAgrees(inputGrad, inputGradF, $"{name} backward input");

        var weightGrad = Uniform(rng, shape.WeightLength);
        var weightGradF = ToFloat(weightGrad);
        Reference.Linear.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        BackwardWeight(implementation, ToFloat(input), ToFloat(outputGrad), weightGradF, shape);
        AssertAgrees(weightGrad, weightGradF, $"{name} backward weight");

        var biasGrad = Uniform(rng, shape.OutFeatures);
        var biasGradF = ToFloat(biasGrad);
        Reference.Linear.BackwardBias<double>(outputGrad, biasGrad, shape);
        BackwardBias(implementation)(ToFloat(outputGrad), biasGradF, shape);
        AssertAgrees(biasGrad, biasGradF, $"{name} backward bias");
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void LeNet_shapes_at_batch_64_match_the_reference(string implementation)
    {
        CheckAll(implementation, new LinearShape(64, 400, 120), seed: 1);
        CheckAll(implementation, new LinearShape(64, 120, 84), seed: 2);
        CheckAll(implementation, new LinearShape(64, 84, 10), seed: 3);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Odd_shapes_and_small_batches_match_the_reference(string implementation)
    {
        CheckAll(implementation, new LinearShape(1, 1, 1), seed: 4);
        CheckAll(implementation, new LinearShape(1, 37, 5), seed: 5, withBias: false);
        CheckAll(implementation, new LinearShape(3, 13, 33), seed: 6);
        CheckAll(implementation, new LinearShape(7, 300, 17), seed: 7);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Batch_of_1000_matches_the_reference(string implementation) =>
        CheckAll(implementation, new LinearShape(1000, 84, 10), seed: 8);
}
