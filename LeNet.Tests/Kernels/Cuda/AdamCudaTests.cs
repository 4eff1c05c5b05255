using ILGPU.Runtime;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>One launch over a buffer carved into several tensors equals Reference Adam on each tensor.</summary>
[Collection(CudaKernelCollection.Name)]
public class AdamCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private static readonly int[] TensorLengths = [7, 150, 6, 31]; // conv weight, bias, ... of odd sizes
    private const double LearningRate = 1e-3, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;

    [Theory]
    [MemberData(nameof(Devices))]
    public void OneLaunchOverTheCarvedBufferMatchesReferencePerTensor(string device)
    {
        AcceleratorFixture.Require(device);
        foreach (var (weightDecay, decoupled) in new[] { (0.0, false), (0.01, false), (0.01, true) })
            RunSteps(fixture.Kernels(device), weightDecay, decoupled,
                new Random(49_000 + (int)(weightDecay * 100) + (decoupled ? 1 : 0)));
    }

    private static void RunSteps(LeNet.Kernels.Cuda.CudaKernels kernels, double weightDecay, bool decoupled, Random rng)
    {
        int total = TensorLengths.Sum();
        var parameters = Uniform(rng, total, -0.1, 0.1); // small, as trained weights are: float keeps the updates'
                                                         // digits
        var initial = (double[])parameters.Clone();
        var (firstMoment, secondMoment) = (new double[total], new double[total]);
        using var parameterBuffer = kernels.Upload(parameters);
        using var gradBuffer = kernels.Zeros(total);
        using var firstMomentBuffer = kernels.Zeros(total);
        using var secondMomentBuffer = kernels.Zeros(total);

        for (int step = 1; step <= 3; step++)
        {
            var grad = Uniform(rng, total);
            gradBuffer.View.CopyFromCPU(grad.Select(v => (float)v).ToArray());
            int offset = 0;
            foreach (int length in TensorLengths)
            {
                Ref.Adam.Step<double>(parameters.AsSpan(offset, length), grad.AsSpan(offset, length),
                    firstMoment.AsSpan(offset, length), secondMoment.AsSpan(offset, length), step, LearningRate, Beta1,
                    Beta2, Eps, weightDecay, decoupled);
                offset += length;
            }
            kernels.AdamStep(parameterBuffer.View, gradBuffer.View, firstMomentBuffer.View, secondMomentBuffer.View,
                step, (float)LearningRate, (float)Beta1, (float)Beta2, (float)Eps, (float)weightDecay, decoupled,
                clearGradient: step == 3);
            string what = $"Adam step {step}, weight decay {weightDecay}, decoupled {decoupled}";
            AssertAgrees(firstMoment, kernels.Download(firstMomentBuffer), what + ": first moment");
            AssertAgrees(secondMoment, kernels.Download(secondMomentBuffer), what + ": second moment");
            // Each step moves a parameter by about lr: compare the movement, not the parameters, or the check would be
            // ~100 times weaker.
            var expectedMovement = parameters.Zip(initial, (p, p0) => p - p0).ToArray();
            var movement = kernels.Download(parameterBuffer).Zip(initial, (p, p0) => p - p0).ToArray();
            AssertAgrees(expectedMovement, movement, what + ": parameter movement");
        }
        Assert.All(kernels.Download(gradBuffer), g => Assert.Equal(0, g)); // cleared by the last step
    }
}
