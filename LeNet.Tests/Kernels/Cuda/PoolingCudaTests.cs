using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class PoolingCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    /// <summary>
    /// LeNet's 2×2/2 on odd sizes (the last row and column fall outside every window), and overlapping 3×3/2 windows.
    /// </summary>
    private static readonly PoolShape[] Shapes = [new(2, 3, 7, 9, 2, 2), new(2, 2, 9, 8, 3, 2)];

    [Theory]
    [MemberData(nameof(Devices))]
    public void MaxPoolMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(42_000);
        foreach (var shape in Shapes)
        {
            var input = AsFloat(GradientCheck.Distinct(rng, shape.InputLength)); // distinct: the argmax is unambiguous
            var (output, argmax) = (new double[shape.OutputLength], new int[shape.OutputLength]);
            Ref.MaxPool2d.Forward<double>(input, output, argmax, shape);
            var outputGrad = Uniform(rng, shape.OutputLength);
            var inputGrad = new double[shape.InputLength];
            Ref.MaxPool2d.Backward<double>(outputGrad, argmax, inputGrad, shape);

            using var inputBuffer = kernels.Upload(input);
            using var outputBuffer = kernels.Zeros(shape.OutputLength);
            using var argmaxBuffer = kernels.Upload(new int[shape.OutputLength]);
            kernels.MaxPool2dForward(inputBuffer.View, outputBuffer.View, argmaxBuffer.View, shape);
            AssertAgrees(output, kernels.Download(outputBuffer), $"max-pool forward {shape}");
            Assert.Equal(argmax, kernels.Download(argmaxBuffer));

            using var outputGradBuffer = kernels.Upload(outputGrad);
            var prefill = Uniform(rng, shape.InputLength);
            using var inputGradBuffer = kernels.Upload(prefill);
            kernels.MaxPool2dBackward(outputGradBuffer.View, argmaxBuffer.View, inputGradBuffer.View, shape);
            AssertAccumulated(prefill, inputGrad, kernels.Download(inputGradBuffer), $"max-pool backward {shape}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void MaxPoolKeepsTheFirstMaximumOnTies(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var shape = new PoolShape(1, 2, 4, 5, 2, 2);
        var input = new double[shape.InputLength]; // all equal: every window's first element wins
        var (output, argmax) = (new double[shape.OutputLength], new int[shape.OutputLength]);
        Ref.MaxPool2d.Forward<double>(input, output, argmax, shape);
        using var inputBuffer = kernels.Upload(input);
        using var outputBuffer = kernels.Zeros(shape.OutputLength);
        using var argmaxBuffer = kernels.Upload(new int[shape.OutputLength]);
        kernels.MaxPool2dForward(inputBuffer.View, outputBuffer.View, argmaxBuffer.View, shape);
        Assert.Equal(argmax, kernels.Download(argmaxBuffer));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AvgPoolMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(42_100);
        foreach (var shape in Shapes)
        {
            var input = Uniform(rng, shape.InputLength);
            var output = new double[shape.OutputLength];
            Ref.AvgPool2d.Forward<double>(input, output, shape);
            var outputGrad = Uniform(rng, shape.OutputLength);
            var inputGrad = new double[shape.InputLength];
            Ref.AvgPool2d.Backward<double>(outputGrad, inputGrad, shape);

            using var inputBuffer = kernels.Upload(input);
            using var outputBuffer = kernels.Upload(Uniform(rng, shape.OutputLength));
            kernels.AvgPool2dForward(inputBuffer.View, outputBuffer.View, shape);
            AssertAgrees(output, kernels.Download(outputBuffer), $"avg-pool forward {shape}");

            using var outputGradBuffer = kernels.Upload(outputGrad);
            var prefill = Uniform(rng, shape.InputLength);
            using var inputGradBuffer = kernels.Upload(prefill);
            kernels.AvgPool2dBackward(outputGradBuffer.View, inputGradBuffer.View, shape);
            AssertAccumulated(prefill, inputGrad, kernels.Download(inputGradBuffer), $"avg-pool backward {shape}");
        }
    }
}
