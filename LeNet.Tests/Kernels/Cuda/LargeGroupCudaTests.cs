using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// The shared fixture's CPU accelerator has 16-thread groups, so its reductions never take the shared-memory tree a
/// GPU's 256-thread groups take, and its GEMM tiles are 4×4. This class runs the reductions and the GEMM on a CPU
/// accelerator with 64-thread groups (one tree round, 8×8 tiles) on small shapes: each barrier costs it milliseconds.
/// </summary>
public sealed class LargeGroupCudaTests : IDisposable
{
    private readonly GpuDevice _device = GpuDevice.CreateCpu(threadsPerGroup: 64, multiprocessors: 1);
    private readonly CudaKernels _kernels;

    public LargeGroupCudaTests() => _kernels = new CudaKernels(_device.Accelerator);

    public void Dispose() => _device.Dispose();

    [Fact]
    public void ReductionsAndTilesAgreeWithReferenceOnLargerGroups()
    {
        Assert.Equal(64, _kernels.ReductionGroupSize);
        Assert.Equal(8, _kernels.Tile);
        var rng = new Random(50_000);

        // BatchNorm training forward and backward: Sum and Sum2 through the tree.
        var shape = new BatchNormShape(3, 2, 45);
        var input = Uniform(rng, shape.Length, -2, 3);
        var (gamma, beta, outputGrad) = (Uniform(rng, 2, 0.5, 1.5), Uniform(rng, 2), Uniform(rng, shape.Length));
        var output = new double[shape.Length];
        var (mean, invStd, runningMean, runningVar) = (new double[2], new double[2], new double[2], new double[2]);
        Ref.BatchNorm2d.ForwardTraining<double>(input, gamma, beta, output, mean, invStd, runningMean, runningVar, 0.1,
            1e-5, shape);
        var (inputGrad, gammaGrad, betaGrad) = (new double[shape.Length], new double[2], new double[2]);
        Ref.BatchNorm2d.Backward<double>(outputGrad, input, gamma, AsFloat(mean), AsFloat(invStd), inputGrad, gammaGrad,
            betaGrad, shape);

        using var inputBuffer = _kernels.Upload(input);
        using var gammaBuffer = _kernels.Upload(gamma);
        using var betaBuffer = _kernels.Upload(beta);
        using var outputBuffer = _kernels.Zeros(shape.Length);
        using var meanBuffer = _kernels.Zeros(2);
        using var invStdBuffer = _kernels.Zeros(2);
        using var runningMeanBuffer = _kernels.Zeros(2);
        using var runningVarBuffer = _kernels.Zeros(2);
        _kernels.BatchNorm2dForwardTraining(inputBuffer.View, gammaBuffer.View, betaBuffer.View, outputBuffer.View,
            meanBuffer.View, invStdBuffer.View, runningMeanBuffer.View, runningVarBuffer.View, 0.1f, 1e-5f, shape);
        AssertAgrees(output, _kernels.Download(outputBuffer), "64-thread batch-norm forward");
        AssertAgrees(runningVar, _kernels.Download(runningVarBuffer), "64-thread batch-norm running variance");

        using var outputGradBuffer = _kernels.Upload(outputGrad);
        using var inputGradBuffer = _kernels.Zeros(shape.Length);
        using var gammaGradBuffer = _kernels.Zeros(2);
        using var betaGradBuffer = _kernels.Zeros(2);
        _kernels.BatchNorm2dBackward(outputGradBuffer.View, inputBuffer.View, gammaBuffer.View, meanBuffer.View,
            invStdBuffer.View, inputGradBuffer.View, gammaGradBuffer.View, betaGradBuffer.View, shape);
        AssertAgrees(inputGrad, _kernels.Download(inputGradBuffer), "64-thread batch-norm backward input");
        AssertAgrees(gammaGrad, _kernels.Download(gammaGradBuffer), "64-thread batch-norm backward gamma");

        // Convolution weight and bias gradients: SumToFirst through the tree.
        var conv = new ConvShape(2, 2, 7, 6, 2, 3, 3);
        var (convInput, convOutputGrad) = (Uniform(rng, conv.InputLength), Uniform(rng, conv.OutputLength));
        var (weightGrad, biasGrad) = (new double[conv.WeightLength], new double[conv.OutChannels]);
        Ref.Conv2d.BackwardWeight<double>(convInput, convOutputGrad, weightGrad, conv);
        Ref.Conv2d.BackwardBias<double>(convOutputGrad, biasGrad, conv);
        using var convInputBuffer = _kernels.Upload(convInput);
        using var convOutputGradBuffer = _kernels.Upload(convOutputGrad);
        using var weightGradBuffer = _kernels.Zeros(conv.WeightLength);
        using var biasGradBuffer = _kernels.Zeros(conv.OutChannels);
        _kernels.Conv2dBackward(convInputBuffer.View, default, convOutputGradBuffer.View, default,
            weightGradBuffer.View, biasGradBuffer.View, conv);
        AssertAgrees(weightGrad, _kernels.Download(weightGradBuffer), "64-thread conv weight gradient");
        AssertAgrees(biasGrad, _kernels.Download(biasGradBuffer), "64-thread conv bias gradient");

        // An 8×8-tiled GEMM with a partial last tile.
        var linear = new LinearShape(3, 13, 10);
        var (linearInput, weight, bias) = (Uniform(rng, linear.InputLength), Uniform(rng, linear.WeightLength),
            Uniform(rng, linear.OutFeatures));
        var linearOutput = new double[linear.OutputLength];
        Ref.Linear.Forward<double>(linearInput, weight, bias, linearOutput, linear);
        using var linearInputBuffer = _kernels.Upload(linearInput);
        using var weightBuffer = _kernels.Upload(weight);
        using var biasBuffer = _kernels.Upload(bias);
        using var linearOutputBuffer = _kernels.Zeros(linear.OutputLength);
        _kernels.LinearForward(linearInputBuffer.View, weightBuffer.View, biasBuffer.View, linearOutputBuffer.View,
            linear);
        AssertAgrees(linearOutput, _kernels.Download(linearOutputBuffer), "8×8-tiled linear forward");
    }

    [Fact]
    public void TheStagedConvolutionsStatisticsTakeTheTreeOnLargerGroups()
    {
        // A 10×10 output plane: 64-thread groups (one tree round) for the convolution with BatchNorm's statistics.
        var conv = new ConvShape(2, 1, 12, 12, 2, 3, 3);
        var shape = new PoolShape(2, 2, 10, 10, 2, 2);
        var normShape = new BatchNormShape(2, 2, 100);
        var rng = new Random(50_100);
        var (input, weight, bias) = (Uniform(rng, conv.InputLength), Uniform(rng, conv.WeightLength), Uniform(rng, 2));
        var (gamma, beta) = (Uniform(rng, 2, 0.5, 1.5), Uniform(rng, 2));
        var convOutput = new double[conv.OutputLength];
        Ref.Conv2d.Forward<double>(input, weight, bias, convOutput, conv);
        var normalised = new double[conv.OutputLength];
        var (mean, invStd, runningMean, runningVar) = (new double[2], new double[2], new double[2],
            new double[] { 1, 1 });
        Ref.BatchNorm2d.ForwardTraining<double>(convOutput, gamma, beta, normalised, mean, invStd, runningMean,
            runningVar, 0.1, 1e-5, normShape);
        Ref.ReLU.Forward<double>(normalised, normalised);
        var (pooled, argmax) = (new double[shape.OutputLength], new int[shape.OutputLength]);
        Ref.MaxPool2d.Forward<double>(normalised, pooled, argmax, shape);

        using var inputBuffer = _kernels.Upload(input);
        using var weightBuffer = _kernels.Upload(weight);
        using var biasBuffer = _kernels.Upload(bias);
        using var convOutputBuffer = _kernels.Zeros(conv.OutputLength);
        using var gammaBuffer = _kernels.Upload(gamma);
        using var betaBuffer = _kernels.Upload(beta);
        using var pooledBuffer = _kernels.Zeros(shape.OutputLength);
        using var argmaxBuffer = _kernels.Upload(new int[shape.OutputLength]);
        using var meanBuffer = _kernels.Zeros(2);
        using var invStdBuffer = _kernels.Zeros(2);
        using var runningMeanBuffer = _kernels.Zeros(2);
        using var runningVarBuffer = _kernels.Upload(new double[] { 1, 1 });
        _kernels.Conv2dBatchNormReLUMaxPoolForwardTraining(inputBuffer.View, weightBuffer.View, biasBuffer.View,
            convOutputBuffer.View, gammaBuffer.View, betaBuffer.View, pooledBuffer.View, argmaxBuffer.View,
            meanBuffer.View, invStdBuffer.View, runningMeanBuffer.View, runningVarBuffer.View, 0.1f, 1e-5f, conv, 2);
        AssertAgrees(convOutput, _kernels.Download(convOutputBuffer), "64-thread staged convolution");
        AssertAgrees(pooled, _kernels.Download(pooledBuffer), "64-thread conv block: pooled");
        Assert.Equal(argmax, _kernels.Download(argmaxBuffer));
        AssertAgrees(invStd, _kernels.Download(invStdBuffer), "64-thread conv block: inverse std");
        AssertAgrees(runningVar, _kernels.Download(runningVarBuffer), "64-thread conv block: running variance");
    }
}
