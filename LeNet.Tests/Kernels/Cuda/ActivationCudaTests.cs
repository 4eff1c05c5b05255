using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class ActivationCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const int Length = 1237; // not a multiple of any group size

    [Theory]
    [MemberData(nameof(Devices))]
    public void ReLUMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(43_000);
        var input = Uniform(rng, Length);
        var outputGrad = Uniform(rng, Length);
        var output = new double[Length];
        Ref.ReLU.Forward<double>(input, output);
        var inputGrad = new double[Length];
        Ref.ReLU.Backward<double>(input, outputGrad, inputGrad);

        using var inputBuffer = kernels.Upload(input);
        using var outputBuffer = kernels.Upload(Uniform(rng, Length));
        kernels.ReLUForward(inputBuffer.View, outputBuffer.View);
        AssertAgrees(output, kernels.Download(outputBuffer), "relu forward");

        using var outputGradBuffer = kernels.Upload(outputGrad);
        var prefill = Uniform(rng, Length);
        using var inputGradBuffer = kernels.Upload(prefill);
        kernels.ReLUBackward(inputBuffer.View, outputGradBuffer.View, inputGradBuffer.View);
        AssertAccumulated(prefill, inputGrad, kernels.Download(inputGradBuffer), "relu backward");

        kernels.ReLUForward(inputBuffer.View, inputBuffer.View); // in place
        AssertAgrees(output, kernels.Download(inputBuffer), "relu forward in place");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void TanhMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(43_100);
        var input = Uniform(rng, Length, -4, 4);
        input[0] = 0; input[1] = 1e-4; input[2] = -30; // zero, tiny (cancellation in 1 − e), saturated
        var outputGrad = Uniform(rng, Length);
        var output = new double[Length];
        Ref.Tanh.Forward<double>(input, output);
        var savedOutput = AsFloat(output);
        var inputGrad = new double[Length];
        Ref.Tanh.Backward<double>(savedOutput, outputGrad, inputGrad);

        using var inputBuffer = kernels.Upload(input);
        using var outputBuffer = kernels.Upload(Uniform(rng, Length));
        kernels.TanhForward(inputBuffer.View, outputBuffer.View);
        AssertAgrees(output, kernels.Download(outputBuffer), "tanh forward");

        using var savedOutputBuffer = kernels.Upload(savedOutput);
        using var outputGradBuffer = kernels.Upload(outputGrad);
        var prefill = Uniform(rng, Length);
        using var inputGradBuffer = kernels.Upload(prefill);
        kernels.TanhBackward(savedOutputBuffer.View, outputGradBuffer.View, inputGradBuffer.View);
        AssertAccumulated(prefill, inputGrad, kernels.Download(inputGradBuffer), "tanh backward");
    }
}
