using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class Conv2dCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    /// <summary>
    /// Stride and padding with odd sizes; LeNet's 5×5 kernel on an odd, non-square input; outputs wide enough (37×32)
    /// that the backward cuts each image's rows into bands of 4, the last band a single row; then one shape for each
    /// remaining mix of the backward's paths. Weight partials from shared memory (the image and one output plane fit)
    /// and input gradient from shared memory (one image's output gradient fits): both, both, neither, weights only
    /// (8 output channels of 18×18: 2,592 floats), input only (a 1,152-float plane, 2,880-float image); and a batch of
    /// 70, so that the sum over chunks takes the partials four per thread and round (70 chunks, 16-thread groups) and
    /// the rest one by one; last LeNet-5's first convolution, whose paired weight partials keep the image in the small
    /// staged array and the two 28×28 planes in the large one.
    /// </summary>
    private static readonly ConvShape[] Shapes =
    [
        new(2, 3, 9, 7, 4, 3, 3, Stride: 2, Padding: 1),
        new(2, 2, 11, 10, 3, 5, 5),
        new(2, 1, 41, 36, 2, 5, 5),
        new(2, 1, 20, 20, 8, 3, 3),
        new(2, 2, 40, 36, 1, 5, 5),
        new(70, 1, 6, 6, 2, 3, 3),
        new(2, 1, 32, 32, 6, 5, 5),
    ];

    /// <summary>
    /// An image of 3·30·30 = 2,700 floats, more than the staged forward holds: the direct forward computes it.
    /// </summary>
    private static readonly ConvShape Unstaged = new(2, 3, 30, 30, 2, 3, 3, Stride: 2);

    [Theory]
    [MemberData(nameof(Devices))]
    public void ForwardMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(41_000);
        Assert.Equal([true, true, true, true, false, true, true],
            Shapes.Select(shape => LeNet.Kernels.Cuda.CudaKernels.ForwardIsStaged(shape)));
        Assert.False(LeNet.Kernels.Cuda.CudaKernels.ForwardIsStaged(Unstaged));
        foreach (var shape in Shapes.Append(Unstaged))
        foreach (bool withBias in new[] { true, false })
        {
            var input = Uniform(rng, shape.InputLength);
            var weight = Uniform(rng, shape.WeightLength);
            var bias = withBias ? Uniform(rng, shape.OutChannels) : [];
            var expected = new double[shape.OutputLength];
            Ref.Conv2d.Forward<double>(input, weight, bias, expected, shape);

            using var inputBuffer = kernels.Upload(input);
            using var weightBuffer = kernels.Upload(weight);
            using var biasBuffer = kernels.Upload(withBias ? bias : [0.0]);
            using var output = kernels.Upload(Uniform(rng, shape.OutputLength)); // garbage: forward must overwrite it
            kernels.Conv2dForward(inputBuffer.View, weightBuffer.View, withBias ? biasBuffer.View : default,
                output.View, shape);
            AssertAgrees(expected, kernels.Download(output), $"conv forward {shape}, bias {withBias}");
        }
    }

    [Fact]
    public void TheShapesCoverEveryMixOfStagedAndDirectBackwardPaths()
    {
        Assert.Equal([true, true, false, false, true, true, false],
            Shapes.Select(shape => LeNet.Kernels.Cuda.CudaKernels.InputGradientIsStaged(shape)));
        Assert.Equal([true, true, false, true, false, true, true],
            Shapes.Select(shape => LeNet.Kernels.Cuda.CudaKernels.WeightGradientIsStaged(shape)));
        // Of the staged weight paths, two output channels per group where they pair up (4, 8, 2 and 6 channels), one
        // for 3.
        Assert.Equal([2, 1, 1, 2, 1, 2, 2],
            Shapes.Select(shape => LeNet.Kernels.Cuda.CudaKernels.WeightChannelsPerGroup(shape)));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void EachBackwardMatchesReferenceAndAccumulates(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(41_100);
        foreach (var shape in Shapes)
        {
            var (input, weight, outputGrad) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength),
                Uniform(rng, shape.OutputLength));
            var (inputGrad, weightGrad, biasGrad) = (new double[shape.InputLength], new double[shape.WeightLength],
                new double[shape.OutChannels]);
            Ref.Conv2d.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
            Ref.Conv2d.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
            Ref.Conv2d.BackwardBias<double>(outputGrad, biasGrad, shape);

            using var inputBuffer = kernels.Upload(input);
            using var weightBuffer = kernels.Upload(weight);
            using var outputGradBuffer = kernels.Upload(outputGrad);
            var (inputPrefill, weightPrefill, biasPrefill) = (Uniform(rng, shape.InputLength),
                Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutChannels));
            using var inputGradBuffer = kernels.Upload(inputPrefill);
            using var weightGradBuffer = kernels.Upload(weightPrefill);
            using var biasGradBuffer = kernels.Upload(biasPrefill);
            kernels.Conv2dBackwardInput(outputGradBuffer.View, weightBuffer.View, inputGradBuffer.View, shape);
            kernels.Conv2dBackwardWeight(inputBuffer.View, outputGradBuffer.View, weightGradBuffer.View, shape);
            kernels.Conv2dBackwardBias(outputGradBuffer.View, biasGradBuffer.View, shape);
            AssertAccumulated(inputPrefill, inputGrad, kernels.Download(inputGradBuffer),
                $"conv backward input {shape}");
            AssertAccumulated(weightPrefill, weightGrad, kernels.Download(weightGradBuffer),
                $"conv backward weight {shape}");
            AssertAccumulated(biasPrefill, biasGrad, kernels.Download(biasGradBuffer), $"conv backward bias {shape}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void OnAGpuKernelsCompiledPerShapeGiveTheBitsOfTheGenericOnes(string device)
    {
        AcceleratorFixture.Require(device);
        // ILGPU's CPU accelerator runs the per-shape kernels' .NET code, which calls the generic kernels: there the
        // comparison would be of a kernel with itself. Only a GPU compiles them apart.
        if (device == AcceleratorFixture.Cpu)
            Assert.Skip("on ILGPU's CPU accelerator the per-shape kernels call the generic ones (a self-comparison)");
        // SpecializeShapes false takes the generic kernels; on a GPU the specialized ones fold the sizes into
        // constants, which must not change a single addition.
        var accelerator = fixture.Kernels(device).Accelerator;
        var results = new[] { true, false }.Select(specialize =>
        {
            var options = new LeNet.Kernels.Cuda.GpuOptions(SpecializeShapes: specialize);
            var kernels = new LeNet.Kernels.Cuda.CudaKernels(accelerator, options);
            Assert.Equal(specialize, kernels.Options.SpecializeShapes);
            var rng = new Random(41_300);
            return Shapes.Select(shape =>
            {
                var (input, weight, bias, outputGrad) = (Uniform(rng, shape.InputLength),
                    Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutChannels),
                    Uniform(rng, shape.OutputLength));
                using var inputBuffer = kernels.Upload(input);
                using var weightBuffer = kernels.Upload(weight);
                using var biasBuffer = kernels.Upload(bias);
                using var outputGradBuffer = kernels.Upload(outputGrad);
                using var output = kernels.Zeros(shape.OutputLength);
                using var inputGrad = kernels.Zeros(shape.InputLength);
                using var weightGrad = kernels.Zeros(shape.WeightLength);
                using var biasGrad = kernels.Zeros(shape.OutChannels);
                kernels.Conv2dForward(inputBuffer.View, weightBuffer.View, biasBuffer.View, output.View, shape);
                kernels.Conv2dBackward(inputBuffer.View, weightBuffer.View, outputGradBuffer.View, inputGrad.View,
                    weightGrad.View, biasGrad.View, shape);
                return new[] { output, inputGrad, weightGrad, biasGrad }.SelectMany(kernels.Download).ToArray();
            }).ToArray();
        }).ToArray();
        for (var i = 0; i < Shapes.Length; i++)
            Assert.Equal(results[1][i], results[0][i]);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void FusedBackwardMatchesTheThreeKernels(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(41_200);
        var shape = Shapes[1];
        var (input, weight, outputGrad) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.WeightLength),
            Uniform(rng, shape.OutputLength));
        var (inputGrad, weightGrad, biasGrad) = (new double[shape.InputLength], new double[shape.WeightLength],
            new double[shape.OutChannels]);
        Ref.Conv2d.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
        Ref.Conv2d.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        Ref.Conv2d.BackwardBias<double>(outputGrad, biasGrad, shape);

        using var inputBuffer = kernels.Upload(input);
        using var weightBuffer = kernels.Upload(weight);
        using var outputGradBuffer = kernels.Upload(outputGrad);
        var (inputPrefill, weightPrefill, biasPrefill) = (Uniform(rng, shape.InputLength),
            Uniform(rng, shape.WeightLength), Uniform(rng, shape.OutChannels));
        using var inputGradBuffer = kernels.Upload(inputPrefill);
        using var weightGradBuffer = kernels.Upload(weightPrefill);
        using var biasGradBuffer = kernels.Upload(biasPrefill);
        kernels.Conv2dBackward(inputBuffer.View, weightBuffer.View, outputGradBuffer.View, inputGradBuffer.View,
            weightGradBuffer.View, biasGradBuffer.View, shape);
        AssertAccumulated(inputPrefill, inputGrad, kernels.Download(inputGradBuffer), "fused conv backward: input");
        AssertAccumulated(weightPrefill, weightGrad, kernels.Download(weightGradBuffer), "fused conv backward: weight");
        AssertAccumulated(biasPrefill, biasGrad, kernels.Download(biasGradBuffer), "fused conv backward: bias");

        // Weight and bias without the input gradient (the first layer's case), into fresh zeros.
        using var weightOnly = kernels.Zeros(shape.WeightLength);
        using var biasOnly = kernels.Zeros(shape.OutChannels);
        kernels.Conv2dBackward(inputBuffer.View, default, outputGradBuffer.View, default, weightOnly.View,
            biasOnly.View, shape);
        AssertAgrees(weightGrad, kernels.Download(weightOnly), "conv backward without input gradient: weight");
        AssertAgrees(biasGrad, kernels.Download(biasOnly), "conv backward without input gradient: bias");
    }
}
