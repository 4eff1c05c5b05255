using ILGPU;
using LeNet.Kernels.Cuda;
using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class LinearCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    /// <summary>
    /// Extents that are not multiples of the tile (4 on the test accelerator, 16 on a GPU), one of them below it, and a
    /// depth of three slabs (SlabTiles · tile = 32 here), the last one partial.
    /// </summary>
    private static readonly LinearShape[] Shapes = [new(5, 19, 13), new(9, 6, 18), new(3, 70, 5)];

    [Theory]
    [MemberData(nameof(Devices))]
    public void ForwardMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_000);
        foreach (var shape in Shapes)
        foreach (bool withBias in new[] { true, false })
        foreach (bool relu in new[] { false, true })
        {
            var (input, weight) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength));
            var bias = withBias ? Uniform(rng, shape.OutFeatures) : [];
            var expected = new double[shape.OutputLength];
            Ref.Linear.Forward<double>(input, weight, bias, expected, shape);
            if (relu)
                Ref.ReLU.Forward<double>(expected, expected);

            using var inputBuffer = kernels.Upload(input);
            using var weightBuffer = kernels.Upload(weight);
            using var biasBuffer = kernels.Upload(withBias ? bias : [0.0]);
            using var output = kernels.Upload(Uniform(rng, shape.OutputLength));
            kernels.LinearForward(inputBuffer.View, weightBuffer.View, withBias ? biasBuffer.View : default,
                output.View, shape, relu);
            AssertAgrees(expected, kernels.Download(output), $"linear forward {shape}, bias {withBias}, relu {relu}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void EachBackwardMatchesReferenceAndAccumulates(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_100);
        foreach (var shape in Shapes)
        {
            var (input, weight, outputGrad) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength),
                Uniform(rng, shape.OutputLength));
            var (inputGrad, weightGrad, biasGrad) = (new double[shape.InputLength], new double[shape.WeightLength],
                new double[shape.OutFeatures]);
            Ref.Linear.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
            Ref.Linear.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
            Ref.Linear.BackwardBias<double>(outputGrad, biasGrad, shape);

            AssertBackwardAccumulates(kernels, rng, shape, (input, weight, outputGrad),
                (inputGrad, weightGrad, biasGrad), $"linear backward {shape}", v =>
            {
                kernels.LinearBackwardInput(v.OutputGrad, v.Weight, v.InputGrad, shape);
                kernels.LinearBackwardWeight(v.Input, v.OutputGrad, v.WeightGrad, shape);
                kernels.LinearBackwardBias(v.OutputGrad, v.BiasGrad, shape);
            });
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void FusedBackwardWithReLUMaskMatchesLinearThenReLUBackward(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_200);
        var shape = Shapes[0];
        // The layer's input is a ReLU's output: non-negative, with zeros where the ReLU's input was negative.
        var preActivation = Uniform(rng, shape.InputLength);
        var input = new double[shape.InputLength];
        Ref.ReLU.Forward<double>(preActivation, input);
        var (weight, outputGrad) = (Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutputLength));

        var linearInputGrad = new double[shape.InputLength];
        Ref.Linear.BackwardInput<double>(outputGrad, weight, linearInputGrad, shape);
        var preActivationGrad = new double[shape.InputLength];
        Ref.ReLU.Backward<double>(preActivation, linearInputGrad, preActivationGrad);
        var (weightGrad, biasGrad) = (new double[shape.WeightLength], new double[shape.OutFeatures]);
        Ref.Linear.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        Ref.Linear.BackwardBias<double>(outputGrad, biasGrad, shape);

        using var inputBuffer = kernels.Upload(input);
        using var weightBuffer = kernels.Upload(weight);
        using var outputGradBuffer = kernels.Upload(outputGrad);
        var (inputPrefill, weightPrefill, biasPrefill) = (Uniform(rng, shape.InputLength),
            Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutFeatures));
        using var inputGradBuffer = kernels.Upload(inputPrefill);
        using var weightGradBuffer = kernels.Upload(weightPrefill);
        using var biasGradBuffer = kernels.Upload(biasPrefill);
        kernels.LinearBackward(inputBuffer.View, weightBuffer.View, outputGradBuffer.View, inputGradBuffer.View,
            weightGradBuffer.View, biasGradBuffer.View, shape, maskInputByReLU: true);
        AssertAccumulated(inputPrefill, preActivationGrad, kernels.Download(inputGradBuffer),
            "fused linear backward: pre-activation gradient");
        AssertAccumulated(weightPrefill, weightGrad, kernels.Download(weightGradBuffer),
            "fused linear backward: weight");
        AssertAccumulated(biasPrefill, biasGrad, kernels.Download(biasGradBuffer), "fused linear backward: bias");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void BackwardThroughItsOwnReLUMatchesReLUThenLinearBackward(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_300);
        foreach (var shape in Shapes)
        {
            var (input, weight, bias) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength),
                Uniform(rng, shape.OutFeatures));
            // The layer's own output after its fused ReLU: about half zeros.
            var output = new double[shape.OutputLength];
            Ref.Linear.Forward<double>(input, weight, bias, output, shape);
            Ref.ReLU.Forward<double>(output, output);
            output = AsFloat(output);
            var outputGrad = Uniform(rng, shape.OutputLength);
            var preActivationGrad = new double[shape.OutputLength];
            Ref.ReLU.Backward<double>(output, outputGrad, preActivationGrad); // output > 0 exactly where the
                                                                              // pre-activation is
            var (inputGrad, weightGrad, biasGrad) = (new double[shape.InputLength], new double[shape.WeightLength],
                new double[shape.OutFeatures]);
            Ref.Linear.BackwardInput<double>(preActivationGrad, weight, inputGrad, shape);
            Ref.Linear.BackwardWeight<double>(input, preActivationGrad, weightGrad, shape);
            Ref.Linear.BackwardBias<double>(preActivationGrad, biasGrad, shape);

            using var outputBuffer = kernels.Upload(output);
            AssertBackwardAccumulates(kernels, rng, shape, (input, weight, outputGrad),
                (inputGrad, weightGrad, biasGrad), $"{shape} through its ReLU", v =>
                    kernels.LinearBackward(v.Input, v.Weight, v.OutputGrad, v.InputGrad, v.WeightGrad, v.BiasGrad,
                        shape, reluOutput: outputBuffer.View));
        }
    }

    private readonly record struct BackwardViews(ArrayView<float> Input, ArrayView<float> Weight,
        ArrayView<float> OutputGrad, ArrayView<float> InputGrad, ArrayView<float> WeightGrad,
        ArrayView<float> BiasGrad);

    /// <summary>
    /// Uploads the operands, runs <paramref name="backward"/> into gradients prefilled at random, and checks each is
    /// prefill + expected.
    /// </summary>
    private static void AssertBackwardAccumulates(CudaKernels kernels, Random rng, LinearShape shape,
        (double[] Input, double[] Weight, double[] OutputGrad) operands,
        (double[] Input, double[] Weight, double[] Bias) expected, string what, Action<BackwardViews> backward)
    {
        using var inputBuffer = kernels.Upload(operands.Input);
        using var weightBuffer = kernels.Upload(operands.Weight);
        using var outputGradBuffer = kernels.Upload(operands.OutputGrad);
        var (inputPrefill, weightPrefill, biasPrefill) = (Uniform(rng, shape.InputLength),
            Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutFeatures));
        using var inputGradBuffer = kernels.Upload(inputPrefill);
        using var weightGradBuffer = kernels.Upload(weightPrefill);
        using var biasGradBuffer = kernels.Upload(biasPrefill);
        backward(new BackwardViews(inputBuffer.View, weightBuffer.View, outputGradBuffer.View, inputGradBuffer.View,
            weightGradBuffer.View, biasGradBuffer.View));
        AssertAccumulated(inputPrefill, expected.Input, kernels.Download(inputGradBuffer), $"{what}: input");
        AssertAccumulated(weightPrefill, expected.Weight, kernels.Download(weightGradBuffer), $"{what}: weight");
        AssertAccumulated(biasPrefill, expected.Bias, kernels.Download(biasGradBuffer), $"{what}: bias");
    }
}
