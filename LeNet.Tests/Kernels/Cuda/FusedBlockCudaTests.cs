using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>BatchNorm → ReLU → MaxPool in one launch each way, against the composition of the three Reference kernels.</summary>
[Collection(CudaKernelCollection.Name)]
public class FusedBlockCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const double Momentum = 0.1, Eps = 1e-5;
    private static readonly PoolShape Shape = new(3, 2, 9, 7, 2, 2); // odd: a row and a column outside every window
    private static readonly BatchNormShape NormShape = new(3, 2, 63);

    private sealed record Block(double[] Input, double[] Gamma, double[] Beta, double[] RunningMean, double[] RunningVar);

    private static Block Draw(Random rng) => new(Uniform(rng, Shape.InputLength, -2, 3), Uniform(rng, 2, 0.5, 1.5), Uniform(rng, 2, -0.5, 0.5),
        Uniform(rng, 2), Uniform(rng, 2, 0.5, 2));

    [Theory]
    [MemberData(nameof(Devices))]
    public void TrainingForwardMatchesBatchNormThenReluThenMaxPool(string device)
    {
        var kernels = fixture.Kernels(device);
        var block = Draw(new Random(46_000));
        var normalised = new double[Shape.InputLength];
        var (mean, invStd) = (new double[2], new double[2]);
        var (runningMean, runningVar) = ((double[])block.RunningMean.Clone(), (double[])block.RunningVar.Clone());
        Ref.BatchNorm2d.ForwardTraining<double>(block.Input, block.Gamma, block.Beta, normalised, mean, invStd, runningMean, runningVar, Momentum, Eps, NormShape);
        Ref.ReLU.Forward<double>(normalised, normalised);
        var (pooled, argmax) = (new double[Shape.OutputLength], new int[Shape.OutputLength]);
        Ref.MaxPool2d.Forward<double>(normalised, pooled, argmax, Shape);

        using var inputBuffer = kernels.Upload(block.Input);
        using var gammaBuffer = kernels.Upload(block.Gamma);
        using var betaBuffer = kernels.Upload(block.Beta);
        using var pooledBuffer = kernels.Zeros(Shape.OutputLength);
        using var argmaxBuffer = kernels.Upload(new int[Shape.OutputLength]);
        using var meanBuffer = kernels.Zeros(2);
        using var invStdBuffer = kernels.Zeros(2);
        using var runningMeanBuffer = kernels.Upload(block.RunningMean);
        using var runningVarBuffer = kernels.Upload(block.RunningVar);
        kernels.BatchNormReluMaxPoolForwardTraining(inputBuffer.View, gammaBuffer.View, betaBuffer.View, pooledBuffer.View, argmaxBuffer.View,
            meanBuffer.View, invStdBuffer.View, runningMeanBuffer.View, runningVarBuffer.View, (float)Momentum, (float)Eps, Shape);
        AssertAgrees(pooled, kernels.Download(pooledBuffer), "fused block: pooled output");
        Assert.Equal(argmax, kernels.Download(argmaxBuffer));
        Assert.Contains(pooled, v => v == 0); // some windows are all rectified: the tie rule at zero is exercised
        AssertAgrees(mean, kernels.Download(meanBuffer), "fused block: mean");
        AssertAgrees(invStd, kernels.Download(invStdBuffer), "fused block: inverse std");
        AssertAgrees(runningMean, kernels.Download(runningMeanBuffer), "fused block: running mean");
        AssertAgrees(runningVar, kernels.Download(runningVarBuffer), "fused block: running variance");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void InferenceForwardMatchesTheComposition(string device)
    {
        var kernels = fixture.Kernels(device);
        var block = Draw(new Random(46_100));
        var normalised = new double[Shape.InputLength];
        Ref.BatchNorm2d.ForwardInference<double>(block.Input, block.Gamma, block.Beta, block.RunningMean, block.RunningVar, Eps, normalised, NormShape);
        Ref.ReLU.Forward<double>(normalised, normalised);
        var (pooled, argmax) = (new double[Shape.OutputLength], new int[Shape.OutputLength]);
        Ref.MaxPool2d.Forward<double>(normalised, pooled, argmax, Shape);

        using var inputBuffer = kernels.Upload(block.Input);
        using var gammaBuffer = kernels.Upload(block.Gamma);
        using var betaBuffer = kernels.Upload(block.Beta);
        using var runningMeanBuffer = kernels.Upload(block.RunningMean);
        using var runningVarBuffer = kernels.Upload(block.RunningVar);
        using var pooledBuffer = kernels.Upload(Uniform(new Random(1), Shape.OutputLength));
        kernels.BatchNormReluMaxPoolForwardInference(inputBuffer.View, gammaBuffer.View, betaBuffer.View, runningMeanBuffer.View, runningVarBuffer.View,
            (float)Eps, pooledBuffer.View, Shape);
        AssertAgrees(pooled, kernels.Download(pooledBuffer), "fused block inference");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void BackwardMatchesMaxPoolThenReluThenBatchNormBackward(string device)
    {
        var kernels = fixture.Kernels(device);
        var rng = new Random(46_200);
        var block = Draw(rng);
        var pooledGrad = Uniform(rng, Shape.OutputLength);

        // The forward on the device gives the argmax and saved statistics the backward consumes.
        using var inputBuffer = kernels.Upload(block.Input);
        using var gammaBuffer = kernels.Upload(block.Gamma);
        using var betaBuffer = kernels.Upload(block.Beta);
        using var pooledBuffer = kernels.Zeros(Shape.OutputLength);
        using var argmaxBuffer = kernels.Upload(new int[Shape.OutputLength]);
        using var meanBuffer = kernels.Zeros(2);
        using var invStdBuffer = kernels.Zeros(2);
        using var runningMeanBuffer = kernels.Upload(block.RunningMean);
        using var runningVarBuffer = kernels.Upload(block.RunningVar);
        kernels.BatchNormReluMaxPoolForwardTraining(inputBuffer.View, gammaBuffer.View, betaBuffer.View, pooledBuffer.View, argmaxBuffer.View,
            meanBuffer.View, invStdBuffer.View, runningMeanBuffer.View, runningVarBuffer.View, (float)Momentum, (float)Eps, Shape);
        var argmax = kernels.Download(argmaxBuffer);
        var (mean, invStd) = (kernels.Download(meanBuffer), kernels.Download(invStdBuffer));

        // Reference: MaxPool backward into the ReLU output's gradient, ReLU backward on BatchNorm's output, BatchNorm backward.
        var normalised = new double[Shape.InputLength];
        for (int i = 0; i < normalised.Length; i++)
        {
            int c = i / NormShape.Spatial % 2;
            normalised[i] = block.Gamma[c] * ((block.Input[i] - mean[c]) * invStd[c]) + block.Beta[c];
        }
        var reluOutputGrad = new double[Shape.InputLength];
        Ref.MaxPool2d.Backward<double>(pooledGrad, argmax, reluOutputGrad, Shape);
        var normalisedGrad = new double[Shape.InputLength];
        Ref.ReLU.Backward<double>(normalised, reluOutputGrad, normalisedGrad);
        var (inputGrad, gammaGrad, betaGrad) = (new double[Shape.InputLength], new double[2], new double[2]);
        Ref.BatchNorm2d.Backward<double>(normalisedGrad, block.Input, block.Gamma, mean, invStd, inputGrad, gammaGrad, betaGrad, NormShape);

        using var pooledGradBuffer = kernels.Upload(pooledGrad);
        var (inputPrefill, gammaPrefill, betaPrefill) = (Uniform(rng, Shape.InputLength), Uniform(rng, 2), Uniform(rng, 2));
        using var inputGradBuffer = kernels.Upload(inputPrefill);
        using var gammaGradBuffer = kernels.Upload(gammaPrefill);
        using var betaGradBuffer = kernels.Upload(betaPrefill);
        kernels.BatchNormReluMaxPoolBackward(pooledGradBuffer.View, argmaxBuffer.View, inputBuffer.View, gammaBuffer.View, betaBuffer.View,
            meanBuffer.View, invStdBuffer.View, inputGradBuffer.View, gammaGradBuffer.View, betaGradBuffer.View, Shape);
        AssertAccumulated(inputPrefill, inputGrad, kernels.Download(inputGradBuffer), "fused block backward: input");
        AssertAccumulated(gammaPrefill, gammaGrad, kernels.Download(gammaGradBuffer), "fused block backward: gamma");
        AssertAccumulated(betaPrefill, betaGrad, kernels.Download(betaGradBuffer), "fused block backward: beta");
    }
}
