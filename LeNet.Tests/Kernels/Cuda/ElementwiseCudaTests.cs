using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// Sigmoid, target += source, target += value and SGD on the accelerators, against the Reference kernels.
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class ElementwiseCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const int Length = 1237; // not a multiple of any group size

    [Theory]
    [MemberData(nameof(Devices))]
    public void SigmoidMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(44_000);
        var input = Uniform(rng, Length, -6, 6);
        input[0] = 0; input[1] = -100; input[2] = 100; // the middle, and both saturated ends (e^100 would overflow)
        var output = new double[Length];
        Ref.Sigmoid.Forward<double>(input, output);
        var savedOutput = AsFloat(output);
        var outputGrad = Uniform(rng, Length);
        var inputGrad = new double[Length];
        Ref.Sigmoid.Backward<double>(savedOutput, outputGrad, inputGrad);

        using var inputBuffer = kernels.Upload(input);
        using var outputBuffer = kernels.Upload(Uniform(rng, Length));
        kernels.SigmoidForward(inputBuffer.View, outputBuffer.View);
        var actual = kernels.Download(outputBuffer);
        AssertAgrees(output, actual, "sigmoid forward");
        Assert.Equal(0.5, actual[0]);
        Assert.True(actual[1] >= 0 && actual[1] < 1e-30 && actual[2] == 1,
            "sigmoid must saturate to 0 and 1 without NaN.");

        using var savedBuffer = kernels.Upload(savedOutput);
        using var outputGradBuffer = kernels.Upload(outputGrad);
        var prefill = Uniform(rng, Length);
        using var inputGradBuffer = kernels.Upload(prefill);
        kernels.SigmoidBackward(savedBuffer.View, outputGradBuffer.View, inputGradBuffer.View);
        AssertAccumulated(prefill, inputGrad, kernels.Download(inputGradBuffer), "sigmoid backward");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AddAndAddScalarAccumulate(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(44_100);
        var source = Uniform(rng, Length);
        var prefill = Uniform(rng, Length);
        using var sourceBuffer = kernels.Upload(source);
        using var targetBuffer = kernels.Upload(prefill);
        kernels.Add(sourceBuffer.View, targetBuffer.View);
        AssertAccumulated(prefill, source, kernels.Download(targetBuffer), "add");

        var before = kernels.Download(targetBuffer);
        kernels.AddScalar(targetBuffer.View, 0.75f);
        AssertAccumulated(before, Enumerable.Repeat(0.75, Length).ToArray(), kernels.Download(targetBuffer),
            "add scalar");

        using var shortBuffer = kernels.Upload(new double[Length - 1]);
        Assert.Throws<ArgumentException>(() => kernels.Add(sourceBuffer.View, shortBuffer.View));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SgdMatchesReferenceOverSeveralSteps(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        foreach (var (momentum, dampening, weightDecay, nesterov) in new[] { (0f, 0f, 0f, false),
            (0.9f, 0.1f, 1e-2f, false), (0.9f, 0f, 5e-3f, true) })
        {
            var rng = new Random(44_200);
            var parameter = Uniform(rng, Length);
            var buffer = new double[Length];
            using var parameterBuffer = kernels.Upload(parameter);
            using var momentumBuffer = kernels.Upload(new double[Length]);
            for (var step = 0; step < 3; step++)
            {
                var grad = Uniform(rng, Length);
                Ref.Sgd.Step<double>(parameter, grad, buffer, step == 0, 0.05, momentum, dampening, weightDecay,
                    nesterov);
                using var gradBuffer = kernels.Upload(grad);
                kernels.SgdStep(parameterBuffer.View, gradBuffer.View, momentum != 0 ? momentumBuffer.View : default,
                    step == 0, 0.05f, momentum, dampening, weightDecay, nesterov);
                parameter = AsFloat(parameter);
            }
            AssertAgrees(parameter, kernels.Download(parameterBuffer),
                $"sgd (momentum {momentum}, nesterov {nesterov})");
            if (momentum != 0)
                AssertAgrees(buffer, kernels.Download(momentumBuffer), $"sgd momentum buffer (nesterov {nesterov})");
        }
    }
}
