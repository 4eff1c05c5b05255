using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class LinearCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    /// <summary>Extents that are not multiples of the tile (4 on the test accelerator, 16 on a GPU), one of them below it.</summary>
    private static readonly LinearShape[] Shapes = [new(5, 19, 13), new(9, 6, 18)];

    [Theory]
    [MemberData(nameof(Devices))]
    public void ForwardMatchesReference(string device)
    {
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
            kernels.LinearForward(inputBuffer.View, weightBuffer.View, withBias ? biasBuffer.View : default, output.View, shape, relu);
            AssertAgrees(expected, kernels.Download(output), $"linear forward {shape}, bias {withBias}, relu {relu}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void EachBackwardMatchesReferenceAndAccumulates(string device)
    {
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_100);
        foreach (var shape in Shapes)
        {
            var (input, weight, outputGrad) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutputLength));
            var (inputGrad, weightGrad, biasGrad) = (new double[shape.InputLength], new double[shape.WeightLength], new double[shape.OutFeatures]);
            Ref.Linear.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
            Ref.Linear.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
            Ref.Linear.BackwardBias<double>(outputGrad, biasGrad, shape);

            using var inputBuffer = kernels.Upload(input);
            using var weightBuffer = kernels.Upload(weight);
            using var outputGradBuffer = kernels.Upload(outputGrad);
            var (inputPrefill, weightPrefill, biasPrefill) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutFeatures));
            using var inputGradBuffer = kernels.Upload(inputPrefill);
            using var weightGradBuffer = kernels.Upload(weightPrefill);
            using var biasGradBuffer = kernels.Upload(biasPrefill);
            kernels.LinearBackwardInput(outputGradBuffer.View, weightBuffer.View, inputGradBuffer.View, shape);
            kernels.LinearBackwardWeight(inputBuffer.View, outputGradBuffer.View, weightGradBuffer.View, shape);
            kernels.LinearBackwardBias(outputGradBuffer.View, biasGradBuffer.View, shape);
            AssertAccumulated(inputPrefill, inputGrad, kernels.Download(inputGradBuffer), $"linear backward input {shape}");
            AssertAccumulated(weightPrefill, weightGrad, kernels.Download(weightGradBuffer), $"linear backward weight {shape}");
            AssertAccumulated(biasPrefill, biasGrad, kernels.Download(biasGradBuffer), $"linear backward bias {shape}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void FusedBackwardWithReluMaskMatchesLinearThenReluBackward(string device)
    {
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
        var (inputPrefill, weightPrefill, biasPrefill) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutFeatures));
        using var inputGradBuffer = kernels.Upload(inputPrefill);
        using var weightGradBuffer = kernels.Upload(weightPrefill);
        using var biasGradBuffer = kernels.Upload(biasPrefill);
        kernels.LinearBackward(inputBuffer.View, weightBuffer.View, outputGradBuffer.View, inputGradBuffer.View, weightGradBuffer.View, biasGradBuffer.View,
            shape, maskInputByRelu: true);
        AssertAccumulated(inputPrefill, preActivationGrad, kernels.Download(inputGradBuffer), "fused linear backward: pre-activation gradient");
        AssertAccumulated(weightPrefill, weightGrad, kernels.Download(weightGradBuffer), "fused linear backward: weight");
        AssertAccumulated(biasPrefill, biasGrad, kernels.Download(biasGradBuffer), "fused linear backward: bias");
    }
}
