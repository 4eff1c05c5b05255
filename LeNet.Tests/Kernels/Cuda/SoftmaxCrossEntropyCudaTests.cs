using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class SoftmaxCrossEntropyCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const int Batch = 37, Classes = 10; // more rows than a group has threads

    [Theory]
    [MemberData(nameof(Devices))]
    public void ForwardWritesProbabilitiesLossesAndTheMean(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(48_000);
        var logits = Uniform(rng, Batch * Classes, -4, 4);
        var labels = Enumerable.Range(0, Batch).Select(_ => rng.Next(Classes)).ToArray();
        var probabilities = new double[Batch * Classes];
        double mean = Ref.SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, Batch, Classes);
        var losses = Enumerable.Range(0, Batch).Select(n =>
            Ref.SoftmaxCrossEntropy.Forward<double>(logits.AsSpan(n * Classes, Classes), labels.AsSpan(n, 1),
                new double[Classes], 1, Classes)).ToArray();

        using var logitsBuffer = kernels.Upload(logits);
        using var labelsBuffer = kernels.Upload(labels);
        using var probabilitiesBuffer = kernels.Zeros(Batch * Classes);
        using var lossesBuffer = kernels.Zeros(Batch);
        using var meanBuffer = kernels.Zeros(1);
        kernels.SoftmaxCrossEntropyForward(logitsBuffer.View, labelsBuffer.View, probabilitiesBuffer.View,
            lossesBuffer.View, meanBuffer.View, Batch, Classes);
        AssertAgrees(probabilities, kernels.Download(probabilitiesBuffer), "softmax probabilities");
        AssertAgrees(losses, kernels.Download(lossesBuffer), "per-example losses");
        AssertAgrees([mean], kernels.Download(meanBuffer), "mean loss");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void BackwardAloneAndFusedIntoTheForwardMatchReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(48_100);
        var logits = Uniform(rng, Batch * Classes, -4, 4);
        var labels = Enumerable.Range(0, Batch).Select(_ => rng.Next(Classes)).ToArray();
        var probabilities = new double[Batch * Classes];
        Ref.SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, Batch, Classes);
        const double lossGrad = 0.7;
        var logitsGrad = new double[Batch * Classes];
        Ref.SoftmaxCrossEntropy.Backward<double>(probabilities, labels, lossGrad, logitsGrad, Batch, Classes);

        using var logitsBuffer = kernels.Upload(logits);
        using var labelsBuffer = kernels.Upload(labels);
        using var probabilitiesBuffer = kernels.Zeros(Batch * Classes);
        using var lossesBuffer = kernels.Zeros(Batch);
        using var meanBuffer = kernels.Zeros(1);
        var fusedPrefill = Uniform(rng, Batch * Classes);
        using var fusedGradBuffer = kernels.Upload(fusedPrefill);
        kernels.SoftmaxCrossEntropyForward(logitsBuffer.View, labelsBuffer.View, probabilitiesBuffer.View,
            lossesBuffer.View, meanBuffer.View, Batch, Classes, fusedGradBuffer.View, (float)lossGrad);
        AssertAccumulated(fusedPrefill, logitsGrad, kernels.Download(fusedGradBuffer),
            "softmax-CE gradient fused into the forward");

        var prefill = Uniform(rng, Batch * Classes);
        using var gradBuffer = kernels.Upload(prefill);
        using var lossGradBuffer = kernels.Upload([lossGrad]);
        kernels.SoftmaxCrossEntropyBackward(probabilitiesBuffer.View, labelsBuffer.View, lossGradBuffer.View,
            gradBuffer.View, Batch, Classes);
        AssertAccumulated(prefill, logitsGrad, kernels.Download(gradBuffer), "softmax-CE backward");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ALabelOutOfRangeMakesTheLossNaN(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(48_200);
        var labels = Enumerable.Range(0, Batch).Select(_ => rng.Next(Classes)).ToArray();
        labels[3] = Classes;
        using var logitsBuffer = kernels.Upload(Uniform(rng, Batch * Classes));
        using var labelsBuffer = kernels.Upload(labels);
        using var probabilitiesBuffer = kernels.Zeros(Batch * Classes);
        using var lossesBuffer = kernels.Zeros(Batch);
        using var meanBuffer = kernels.Zeros(1);
        kernels.SoftmaxCrossEntropyForward(logitsBuffer.View, labelsBuffer.View, probabilitiesBuffer.View,
            lossesBuffer.View, meanBuffer.View, Batch, Classes);
        var losses = kernels.Download(lossesBuffer);
        Assert.True(double.IsNaN(losses[3]));
        Assert.True(double.IsFinite(losses[2]));
        Assert.True(double.IsNaN(kernels.Download(meanBuffer)[0]));
    }
}
