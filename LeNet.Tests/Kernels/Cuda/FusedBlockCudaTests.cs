using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// BatchNorm → ReLU → MaxPool fused, two launches each way over (channel, chunk of whole planes) groups, against the
/// composition of the three Reference kernels. On the CPU accelerator's 16-thread groups a chunk is about 64 elements,
/// so the shapes below give one chunk per channel, several with a shorter last chunk, planes larger than a chunk, and
/// more chunks than a group has threads (<see cref="ShapesCoverTheChunkLayouts"/> checks that they do).
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class FusedBlockCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const double Momentum = 0.1, Eps = 1e-5;

    private static readonly PoolShape[] Shapes =
    [
        new(3, 2, 9, 7, 2, 2),   // odd: a row and a column outside every window; three one-plane chunks
        new(2, 2, 4, 4, 2, 2),   // one chunk per channel
        new(5, 3, 5, 5, 2, 2),   // two planes per chunk, the last chunk one plane
        new(4, 2, 9, 10, 3, 2),  // planes larger than a chunk; overlapping windows, a column outside every window
        new(20, 3, 6, 6, 2, 2),  // twenty chunks per channel: more than a group's threads combine
    ];

    private static readonly PoolShape Shape = Shapes[0];

    public static TheoryData<string, int> DevicesAndShapes() => DevicesAnd(Shapes.Length);

    /// <summary>Each device with each index below <paramref name="count"/>.</summary>
    private static TheoryData<string, int> DevicesAnd(int count)
    {
        var data = new TheoryData<string, int>();
        foreach (var device in Devices())
            for (int s = 0; s < count; s++)
                data.Add((string)device.Data, s);
        return data;
    }

    private static BatchNormShape NormShapeOf(PoolShape shape) =>
        new(shape.Batch, shape.Channels, shape.Height * shape.Width);

    private sealed record Block(double[] Input, double[] Gamma, double[] Beta, double[] RunningMean,
        double[] RunningVar);

    private static Block Draw(Random rng, PoolShape shape)
    {
        int channels = shape.Channels;
        return new(Uniform(rng, shape.InputLength, -2, 3), Uniform(rng, channels, 0.5, 1.5),
            Uniform(rng, channels, -0.5, 0.5), Uniform(rng, channels), Uniform(rng, channels, 0.5, 2));
    }

    [Fact]
    public void ShapesCoverTheChunkLayouts()
    {
        var kernels = fixture.Kernels(AcceleratorFixture.Cpu);
        Assert.Equal(16, kernels.GroupSize);
        var layouts = Shapes.Select(s => (Planes: kernels.FusedPlanesPerChunk(s), Chunks: kernels.FusedChunks(s),
            s.Batch, Spatial: s.Height * s.Width)).ToArray();
        Assert.Contains(layouts, l => l.Chunks == 1);
        Assert.Contains(layouts, l => l.Chunks > 1 && l.Planes > 1 && l.Batch % l.Planes != 0);
        Assert.Contains(layouts, l =>
            l.Chunks > 1 && l.Spatial > CudaKernels.ChunkElementsPerThread * kernels.GroupSize);
        Assert.Contains(layouts, l => l.Chunks > kernels.GroupSize);
    }

    /// <summary>A block's inputs uploaded, with buffers for what the training forward writes.</summary>
    private sealed class DeviceBlock(CudaKernels kernels, Block block, PoolShape shape) : IDisposable
    {
        public readonly MemoryBuffer1D<float, Stride1D.Dense> Input = kernels.Upload(block.Input),
            Gamma = kernels.Upload(block.Gamma), Beta = kernels.Upload(block.Beta),
            Mean = kernels.Zeros(shape.Channels), InvStd = kernels.Zeros(shape.Channels),
            RunningMean = kernels.Upload(block.RunningMean), RunningVar = kernels.Upload(block.RunningVar),
            Pooled = kernels.Upload(Uniform(new Random(1), shape.OutputLength)); // garbage: the forward overwrites
        public readonly MemoryBuffer1D<int, Stride1D.Dense> Argmax = kernels.Upload(new int[shape.OutputLength]);

        public void Forward() =>
            kernels.BatchNormReLUMaxPoolForwardTraining(Input.View, Gamma.View, Beta.View, Pooled.View, Argmax.View,
                Mean.View, InvStd.View, RunningMean.View, RunningVar.View, (float)Momentum, (float)Eps, shape);

        public void Dispose()
        {
            foreach (var buffer in new[] { Input, Gamma, Beta, Mean, InvStd, RunningMean, RunningVar, Pooled })
                buffer.Dispose();
            Argmax.Dispose();
        }
    }

    /// <summary>
    /// The device's training forward on fresh buffers: pooled, argmax, mean, invStd, running mean and variance.
    /// </summary>
    private static (double[] Pooled, int[] Argmax, double[] Mean, double[] InvStd, double[] RunningMean,
        double[] RunningVar) ForwardOnDevice(CudaKernels kernels, Block block, PoolShape shape)
    {
        using var device = new DeviceBlock(kernels, block, shape);
        device.Forward();
        return (kernels.Download(device.Pooled), kernels.Download(device.Argmax), kernels.Download(device.Mean),
            kernels.Download(device.InvStd), kernels.Download(device.RunningMean), kernels.Download(device.RunningVar));
    }

    /// <summary>
    /// The device's backward (after its forward) into buffers prefilled with <paramref name="prefill"/>: inputGrad,
    /// gammaGrad, betaGrad, and the forward's outputs.
    /// </summary>
    private static (double[] InputGrad, double[] GammaGrad, double[] BetaGrad, int[] Argmax, double[] Mean,
        double[] InvStd) BackwardOnDevice(CudaKernels kernels, Block block, double[] pooledGrad,
        (double[] Input, double[] Gamma, double[] Beta) prefill, PoolShape shape)
    {
        using var device = new DeviceBlock(kernels, block, shape);
        device.Forward();
        using var pooledGradBuffer = kernels.Upload(pooledGrad);
        using var inputGradBuffer = kernels.Upload(prefill.Input);
        using var gammaGradBuffer = kernels.Upload(prefill.Gamma);
        using var betaGradBuffer = kernels.Upload(prefill.Beta);
        kernels.BatchNormReLUMaxPoolBackward(pooledGradBuffer.View, device.Argmax.View, device.Input.View,
            device.Gamma.View, device.Beta.View, device.Mean.View, device.InvStd.View, inputGradBuffer.View,
            gammaGradBuffer.View, betaGradBuffer.View, shape);
        return (kernels.Download(inputGradBuffer), kernels.Download(gammaGradBuffer), kernels.Download(betaGradBuffer),
            kernels.Download(device.Argmax), kernels.Download(device.Mean), kernels.Download(device.InvStd));
    }

    /// <summary>
    /// BatchNorm (training) → ReLU → MaxPool by the Reference kernels: pooled, argmax, mean, invStd, running mean and
    /// variance.
    /// </summary>
    private static (double[] Pooled, int[] Argmax, double[] Mean, double[] InvStd, double[] RunningMean,
        double[] RunningVar) ReferenceTrainingForward(Block block, PoolShape shape)
    {
        var normalised = new double[shape.InputLength];
        var (mean, invStd) = (new double[shape.Channels], new double[shape.Channels]);
        var (runningMean, runningVar) = ((double[])block.RunningMean.Clone(), (double[])block.RunningVar.Clone());
        Ref.BatchNorm2d.ForwardTraining<double>(block.Input, block.Gamma, block.Beta, normalised, mean, invStd,
            runningMean, runningVar, Momentum, Eps, NormShapeOf(shape));
        Ref.ReLU.Forward<double>(normalised, normalised);
        var (pooled, argmax) = (new double[shape.OutputLength], new int[shape.OutputLength]);
        Ref.MaxPool2d.Forward<double>(normalised, pooled, argmax, shape);
        return (pooled, argmax, mean, invStd, runningMean, runningVar);
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
        var accelerator = fixture.Kernels(device).Accelerator;
        var results = new[] { true, false }.Select(specialize =>
        {
            var kernels = new CudaKernels(accelerator, new GpuOptions(SpecializeShapes: specialize));
            var rng = new Random(42_500);
            return Shapes.Select(shape =>
            {
                var block = Draw(rng, shape);
                var pooledGrad = Uniform(rng, shape.OutputLength);
                var prefill = (Uniform(rng, shape.InputLength), Uniform(rng, shape.Channels),
                    Uniform(rng, shape.Channels));
                var forward = ForwardOnDevice(kernels, block, shape);
                var backward = BackwardOnDevice(kernels, block, pooledGrad, prefill, shape);
                return (forward.Pooled.Concat(forward.Mean).Concat(forward.InvStd).Concat(forward.RunningVar)
                    .Concat(backward.InputGrad).Concat(backward.GammaGrad).Concat(backward.BetaGrad).ToArray(),
                    forward.Argmax);
            }).ToArray();
        }).ToArray();
        for (var i = 0; i < Shapes.Length; i++)
        {
            Assert.Equal(results[1][i].Item1, results[0][i].Item1);
            Assert.Equal(results[1][i].Argmax, results[0][i].Argmax);
        }
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void TrainingForwardMatchesBatchNormThenReLUThenMaxPool(string device, int shapeIndex)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var shape = Shapes[shapeIndex];
        var block = Draw(new Random(46_000 + shapeIndex), shape);
        var (pooled, argmax, mean, invStd, runningMean, runningVar) = ReferenceTrainingForward(block, shape);

        var actual = ForwardOnDevice(kernels, block, shape);
        AssertAgrees(pooled, actual.Pooled, "fused block: pooled output");
        Assert.Equal(argmax, actual.Argmax);
        if (shape == Shape)
            Assert.Contains(pooled, v => v == 0); // some windows are all rectified: the tie rule at zero is exercised
        AssertAgrees(mean, actual.Mean, "fused block: mean");
        AssertAgrees(invStd, actual.InvStd, "fused block: inverse std");
        AssertAgrees(runningMean, actual.RunningMean, "fused block: running mean");
        AssertAgrees(runningVar, actual.RunningVar, "fused block: running variance");
    }

    /// <summary>
    /// Convolutions whose outputs feed the block: odd sizes (a row and a column outside every window), stride and
    /// padding, and a batch of 20 (more planes per channel than the simulated group has threads, so the partials are
    /// combined in a loop).
    /// </summary>
    public static TheoryData<string, int> DevicesAndConvShapes() => DevicesAnd(ConvShapes.Length);

    private static readonly ConvShape[] ConvShapes =
    [
        new(3, 2, 9, 8, 3, 3, 3),
        new(2, 1, 10, 9, 2, 3, 3, Stride: 2, Padding: 1),
        new(20, 2, 6, 6, 2, 3, 3),
    ];

    [Theory]
    [MemberData(nameof(DevicesAndConvShapes))]
    public void ConvolutionWithStatisticsThenTrainingForwardMatchesConvThenBatchNormThenReLUThenMaxPool(string device,
        int shapeIndex)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var conv = ConvShapes[shapeIndex];
        Assert.True(CudaKernels.ForwardIsStaged(conv));
        var rng = new Random(46_400 + shapeIndex);
        var (input, weight, bias) = (Uniform(rng, conv.InputLength), Uniform(rng, conv.WeightLength),
            Uniform(rng, conv.OutChannels));
        var shape = new PoolShape(conv.Batch, conv.OutChannels, conv.OutHeight, conv.OutWidth, 2, 2);
        var block = Draw(rng, shape) with { Input = new double[conv.OutputLength] };
        Ref.Conv2d.Forward<double>(input, weight, bias, block.Input, conv);
        var (pooled, argmax, mean, invStd, runningMean, runningVar) = ReferenceTrainingForward(block, shape);

        using var inputBuffer = kernels.Upload(input);
        using var weightBuffer = kernels.Upload(weight);
        using var biasBuffer = kernels.Upload(bias);
        using var convOutput = kernels.Upload(Uniform(rng, conv.OutputLength)); // garbage: overwritten
        using var onDevice = new DeviceBlock(kernels, block, shape);
        kernels.Conv2dBatchNormReLUMaxPoolForwardTraining(inputBuffer.View, weightBuffer.View, biasBuffer.View,
            convOutput.View, onDevice.Gamma.View, onDevice.Beta.View, onDevice.Pooled.View, onDevice.Argmax.View,
            onDevice.Mean.View, onDevice.InvStd.View, onDevice.RunningMean.View, onDevice.RunningVar.View,
            (float)Momentum, (float)Eps, conv, 2);
        AssertAgrees(block.Input, kernels.Download(convOutput), "conv block: convolution output");
        AssertAgrees(pooled, kernels.Download(onDevice.Pooled), "conv block: pooled output");
        Assert.Equal(argmax, kernels.Download(onDevice.Argmax));
        AssertAgrees(mean, kernels.Download(onDevice.Mean), "conv block: mean");
        AssertAgrees(invStd, kernels.Download(onDevice.InvStd), "conv block: inverse std");
        AssertAgrees(runningMean, kernels.Download(onDevice.RunningMean), "conv block: running mean");
        AssertAgrees(runningVar, kernels.Download(onDevice.RunningVar), "conv block: running variance");
    }

    [Fact]
    public void ConvolutionWithStatisticsRefusesShapesTooLargeToStage()
    {
        var kernels = fixture.Kernels(AcceleratorFixture.Cpu);
        var conv = new ConvShape(1, 3, 30, 30, 1, 3, 3);
        Assert.False(CudaKernels.ForwardIsStaged(conv));
        using var buffer = kernels.Zeros(conv.InputLength);
        var e = Assert.Throws<ArgumentException>(() => kernels.Conv2dBatchNormReLUMaxPoolForwardTraining(buffer.View,
            buffer.View, default, buffer.View, buffer.View, buffer.View, buffer.View, default, buffer.View, buffer.View,
            buffer.View, buffer.View, 0.1f, 1e-5f, conv, 2));
        Assert.Contains("too large for the staged convolution", e.Message);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void InferenceForwardMatchesTheComposition(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var block = Draw(new Random(46_100), Shape);
        var normalised = new double[Shape.InputLength];
        Ref.BatchNorm2d.ForwardInference<double>(block.Input, block.Gamma, block.Beta, block.RunningMean,
            block.RunningVar, Eps, normalised, NormShapeOf(Shape));
        Ref.ReLU.Forward<double>(normalised, normalised);
        var (pooled, argmax) = (new double[Shape.OutputLength], new int[Shape.OutputLength]);
        Ref.MaxPool2d.Forward<double>(normalised, pooled, argmax, Shape);

        using var inputBuffer = kernels.Upload(block.Input);
        using var gammaBuffer = kernels.Upload(block.Gamma);
        using var betaBuffer = kernels.Upload(block.Beta);
        using var runningMeanBuffer = kernels.Upload(block.RunningMean);
        using var runningVarBuffer = kernels.Upload(block.RunningVar);
        using var pooledBuffer = kernels.Upload(Uniform(new Random(1), Shape.OutputLength));
        kernels.BatchNormReLUMaxPoolForwardInference(inputBuffer.View, gammaBuffer.View, betaBuffer.View,
            runningMeanBuffer.View, runningVarBuffer.View, (float)Eps, pooledBuffer.View, Shape);
        AssertAgrees(pooled, kernels.Download(pooledBuffer), "fused block inference");
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void BackwardMatchesMaxPoolThenReLUThenBatchNormBackward(string device, int shapeIndex)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var shape = Shapes[shapeIndex];
        var normShape = NormShapeOf(shape);
        int channels = shape.Channels;
        var rng = new Random(46_200 + shapeIndex);
        var block = Draw(rng, shape);
        var pooledGrad = Uniform(rng, shape.OutputLength);
        var prefill = (Uniform(rng, shape.InputLength), Uniform(rng, channels), Uniform(rng, channels));

        // The forward on the device gives the argmax and saved statistics the backward consumes.
        var actual = BackwardOnDevice(kernels, block, pooledGrad, prefill, shape);
        var (argmax, mean, invStd) = (actual.Argmax, actual.Mean, actual.InvStd);

        // Reference: MaxPool backward into the ReLU output's gradient, ReLU backward on BatchNorm's output, BatchNorm
        // backward.
        var normalised = new double[shape.InputLength];
        for (int i = 0; i < normalised.Length; i++)
        {
            int c = i / normShape.Spatial % channels;
            normalised[i] = block.Gamma[c] * ((block.Input[i] - mean[c]) * invStd[c]) + block.Beta[c];
        }
        var reluOutputGrad = new double[shape.InputLength];
        Ref.MaxPool2d.Backward<double>(pooledGrad, argmax, reluOutputGrad, shape);
        var normalisedGrad = new double[shape.InputLength];
        Ref.ReLU.Backward<double>(normalised, reluOutputGrad, normalisedGrad);
        var (inputGrad, gammaGrad, betaGrad) = (new double[shape.InputLength], new double[channels],
            new double[channels]);
        Ref.BatchNorm2d.Backward<double>(normalisedGrad, block.Input, block.Gamma, mean, invStd, inputGrad, gammaGrad,
            betaGrad, normShape);

        AssertAccumulated(prefill.Item1, inputGrad, actual.InputGrad, "fused block backward: input");
        AssertAccumulated(prefill.Item2, gammaGrad, actual.GammaGrad, "fused block backward: gamma");
        AssertAccumulated(prefill.Item3, betaGrad, actual.BetaGrad, "fused block backward: beta");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void TwoRunsGiveBitIdenticalResults(string device)
    {
        AcceleratorFixture.Require(device);
        // The shape with the most chunks per channel: partial sums combined across groups must not depend on timing.
        var kernels = fixture.Kernels(device);
        var shape = Shapes[^1];
        var rng = new Random(46_300);
        var block = Draw(rng, shape);
        var pooledGrad = Uniform(rng, shape.OutputLength);
        var prefill = (Uniform(rng, shape.InputLength), Uniform(rng, shape.Channels), Uniform(rng, shape.Channels));

        var (first, second) = (ForwardOnDevice(kernels, block, shape), ForwardOnDevice(kernels, block, shape));
        Assert.Equal(first.Pooled, second.Pooled);
        Assert.Equal(first.Argmax, second.Argmax);
        Assert.Equal(first.Mean, second.Mean);
        Assert.Equal(first.InvStd, second.InvStd);
        Assert.Equal(first.RunningMean, second.RunningMean);
        Assert.Equal(first.RunningVar, second.RunningVar);

        var (firstBackward, secondBackward) = (BackwardOnDevice(kernels, block, pooledGrad, prefill, shape),
            BackwardOnDevice(kernels, block, pooledGrad, prefill, shape));
        Assert.Equal(firstBackward.InputGrad, secondBackward.InputGrad);
        Assert.Equal(firstBackward.GammaGrad, secondBackward.GammaGrad);
        Assert.Equal(firstBackward.BetaGrad, secondBackward.BetaGrad);
    }
}
