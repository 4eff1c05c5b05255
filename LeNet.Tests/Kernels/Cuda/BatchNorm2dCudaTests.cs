using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class BatchNorm2dCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const double Momentum = 0.1, Eps = 1e-5;

    /// <summary>Spatial 7×5 and a batch of 3: per-channel counts that are not multiples of any group size.</summary>
    private static readonly BatchNormShape Shape = new(3, 4, 35);

    [Theory]
    [MemberData(nameof(Devices))]
    public void TrainingForwardMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(45_000);
        int C = Shape.Channels;
        var input = Uniform(rng, Shape.Length, -2, 3);
        var (gamma, beta) = (Uniform(rng, C, 0.5, 1.5), Uniform(rng, C));
        var (runningMean, runningVar) = (Uniform(rng, C), Uniform(rng, C, 0.5, 2));
        var output = new double[Shape.Length];
        var (mean, invStd) = (new double[C], new double[C]);
        var (expectedRunningMean, expectedRunningVar) = ((double[])runningMean.Clone(), (double[])runningVar.Clone());
        Ref.BatchNorm2d.ForwardTraining<double>(input, gamma, beta, output, mean, invStd, expectedRunningMean,
            expectedRunningVar, Momentum, Eps, Shape);

        using var inputBuffer = kernels.Upload(input);
        using var gammaBuffer = kernels.Upload(gamma);
        using var betaBuffer = kernels.Upload(beta);
        using var outputBuffer = kernels.Upload(Uniform(rng, Shape.Length));
        using var meanBuffer = kernels.Zeros(C);
        using var invStdBuffer = kernels.Zeros(C);
        using var runningMeanBuffer = kernels.Upload(runningMean);
        using var runningVarBuffer = kernels.Upload(runningVar);
        kernels.BatchNorm2dForwardTraining(inputBuffer.View, gammaBuffer.View, betaBuffer.View, outputBuffer.View,
            meanBuffer.View, invStdBuffer.View, runningMeanBuffer.View, runningVarBuffer.View, (float)Momentum,
            (float)Eps, Shape);
        AssertAgrees(output, kernels.Download(outputBuffer), "batch-norm training output");
        AssertAgrees(mean, kernels.Download(meanBuffer), "batch-norm saved mean");
        AssertAgrees(invStd, kernels.Download(invStdBuffer), "batch-norm saved inverse std");
        AssertAgrees(expectedRunningMean, kernels.Download(runningMeanBuffer), "batch-norm running mean");
        AssertAgrees(expectedRunningVar, kernels.Download(runningVarBuffer), "batch-norm running variance");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void InferenceForwardMatchesReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(45_100);
        int C = Shape.Channels;
        var input = Uniform(rng, Shape.Length, -2, 3);
        var (gamma, beta) = (Uniform(rng, C, 0.5, 1.5), Uniform(rng, C));
        var (runningMean, runningVar) = (Uniform(rng, C), Uniform(rng, C, 0.5, 2));
        var output = new double[Shape.Length];
        Ref.BatchNorm2d.ForwardInference<double>(input, gamma, beta, runningMean, runningVar, Eps, output, Shape);

        using var inputBuffer = kernels.Upload(input);
        using var gammaBuffer = kernels.Upload(gamma);
        using var betaBuffer = kernels.Upload(beta);
        using var runningMeanBuffer = kernels.Upload(runningMean);
        using var runningVarBuffer = kernels.Upload(runningVar);
        using var outputBuffer = kernels.Upload(Uniform(rng, Shape.Length));
        kernels.BatchNorm2dForwardInference(inputBuffer.View, gammaBuffer.View, betaBuffer.View, runningMeanBuffer.View,
            runningVarBuffer.View, (float)Eps, outputBuffer.View, Shape);
        AssertAgrees(output, kernels.Download(outputBuffer), "batch-norm inference output");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void BackwardMatchesReferenceAndAccumulates(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(45_200);
        int C = Shape.Channels;
        var input = Uniform(rng, Shape.Length, -2, 3);
        var gamma = Uniform(rng, C, 0.5, 1.5);
        var outputGrad = Uniform(rng, Shape.Length);
        // The saved statistics as the training forward leaves them, rounded to float as the device holds them.
        var (mean, invStd) = (new double[C], new double[C]);
        Ref.BatchNorm2d.ForwardTraining<double>(input, gamma, new double[C], new double[Shape.Length], mean, invStd,
            new double[C], new double[C], Momentum, Eps, Shape);
        (mean, invStd) = (AsFloat(mean), AsFloat(invStd));
        var (inputGrad, gammaGrad, betaGrad) = (new double[Shape.Length], new double[C], new double[C]);
        Ref.BatchNorm2d.Backward<double>(outputGrad, input, gamma, mean, invStd, inputGrad, gammaGrad, betaGrad, Shape);

        using var outputGradBuffer = kernels.Upload(outputGrad);
        using var inputBuffer = kernels.Upload(input);
        using var gammaBuffer = kernels.Upload(gamma);
        using var meanBuffer = kernels.Upload(mean);
        using var invStdBuffer = kernels.Upload(invStd);
        var (inputPrefill, gammaPrefill, betaPrefill) = (Uniform(rng, Shape.Length), Uniform(rng, C), Uniform(rng, C));
        using var inputGradBuffer = kernels.Upload(inputPrefill);
        using var gammaGradBuffer = kernels.Upload(gammaPrefill);
        using var betaGradBuffer = kernels.Upload(betaPrefill);
        kernels.BatchNorm2dBackward(outputGradBuffer.View, inputBuffer.View, gammaBuffer.View, meanBuffer.View,
            invStdBuffer.View, inputGradBuffer.View, gammaGradBuffer.View, betaGradBuffer.View, Shape);
        AssertAccumulated(inputPrefill, inputGrad, kernels.Download(inputGradBuffer), "batch-norm backward input");
        AssertAccumulated(gammaPrefill, gammaGrad, kernels.Download(gammaGradBuffer), "batch-norm backward gamma");
        AssertAccumulated(betaPrefill, betaGrad, kernels.Download(betaGradBuffer), "batch-norm backward beta");
    }
}
