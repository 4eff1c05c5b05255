using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using static LeNet.Tests.Kernels.Cuda.DeviceData;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// Conv2d → BatchNorm2d → ReLU → MaxPool2d backward in three launches (the convolution's backward computing its output
/// gradient from the block as it stages it) against the four launches it replaces — BatchNormReluMaxPoolBackward into
/// the convolution's output gradient, then Conv2dBackward. The three must give the four's values to the bit (the same
/// additions in the same order), and the Reference kernels' composition within the kernel tests' tolerance.
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class ConvBlockBackwardCudaTests(AcceleratorFixture fixture)
{
    private const int Pool = 2;

    /// <summary>
    /// LeNet-5's two blocks at a small batch (the first without an input gradient: its input is the data), stride and
    /// padding with an odd number of input channels (one per input-gradient group), and a batch of 20 one-plane chunks:
    /// more chunks per channel than the CPU accelerator's 16-thread groups have threads.
    /// </summary>
    private static readonly (ConvShape Conv, bool InputGradient)[] Cases =
    [
        (new(3, 1, 32, 32, 6, 5, 5), false),
        (new(3, 6, 14, 14, 16, 5, 5), true),
        (new(4, 3, 9, 9, 2, 4, 4, Stride: 1, Padding: 1), true),
        (new(20, 2, 8, 8, 3, 3, 3), true),
    ];

    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    public static TheoryData<string, int> DevicesAndCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in AcceleratorFixture.Devices())
            for (int i = 0; i < Cases.Length; i++)
                data.Add((string)device.Data, i);
        return data;
    }

    /// <summary>A block's forward run on the device (the staged convolution with statistics), and the buffers its backward reads and adds into.</summary>
    private sealed class DeviceBlock : IDisposable
    {
        private readonly CudaKernels _kernels;
        private readonly List<MemoryBuffer> _buffers = [];
        public readonly ConvShape Conv;
        public readonly MemoryBuffer1D<float, Stride1D.Dense> Input, Weight, ConvOutput, Gamma, Beta, Mean, InvStd, InputGrad, WeightGrad, BiasGrad, GammaGrad, BetaGrad;
        public readonly MemoryBuffer1D<int, Stride1D.Dense> Argmax;

        public DeviceBlock(CudaKernels kernels, ConvShape conv, Random rng)
        {
            (_kernels, Conv) = (kernels, conv);
            int channels = conv.OutChannels, pooled = conv.OutputLength / (Pool * Pool);
            Input = Add(kernels.Upload(Uniform(rng, conv.InputLength)));
            Weight = Add(kernels.Upload(Uniform(rng, conv.WeightLength)));
            var bias = Add(kernels.Upload(Uniform(rng, channels)));
            ConvOutput = Add(kernels.Zeros(conv.OutputLength));
            Gamma = Add(kernels.Upload(Uniform(rng, channels, 0.5, 1.5)));
            Beta = Add(kernels.Upload(Uniform(rng, channels, -0.5, 0.5)));
            Mean = Add(kernels.Zeros(channels));
            InvStd = Add(kernels.Zeros(channels));
            var (runningMean, runningVar, pooledOutput) = (Add(kernels.Zeros(channels)), Add(kernels.Upload(Uniform(rng, channels, 0.5, 2))), Add(kernels.Zeros(pooled)));
            Argmax = kernels.Upload(new int[pooled]);
            kernels.Conv2dBatchNormReluMaxPoolForwardTraining(Input.View, Weight.View, bias.View, ConvOutput.View, Gamma.View, Beta.View,
                pooledOutput.View, Argmax.View, Mean.View, InvStd.View, runningMean.View, runningVar.View, 0.1f, 1e-5f, conv, Pool);
            // Gradients already holding values, which the backward adds to.
            (InputGrad, WeightGrad, BiasGrad) = (Add(kernels.Upload(Uniform(rng, conv.InputLength))), Add(kernels.Upload(Uniform(rng, conv.WeightLength))),
                Add(kernels.Upload(Uniform(rng, channels))));
            (GammaGrad, BetaGrad) = (Add(kernels.Upload(Uniform(rng, channels))), Add(kernels.Upload(Uniform(rng, channels))));
        }

        private MemoryBuffer1D<float, Stride1D.Dense> Add(MemoryBuffer1D<float, Stride1D.Dense> buffer)
        {
            _buffers.Add(buffer);
            return buffer;
        }

        /// <summary>The three launches (<paramref name="fused"/>) or the four, adding the gradients of <paramref name="pooledGrad"/>.</summary>
        public void Backward(ArrayView<float> pooledGrad, bool fused, bool inputGradient, bool accumulateInput = true)
        {
            var inputGrad = inputGradient ? InputGrad.View : default;
            if (fused)
            {
                _kernels.Conv2dBatchNormReluMaxPoolBackward(Input.View, Weight.View, ConvOutput.View, pooledGrad, Argmax.View, Gamma.View, Beta.View,
                    Mean.View, InvStd.View, inputGrad, WeightGrad.View, BiasGrad.View, GammaGrad.View, BetaGrad.View, Conv, Pool, accumulateInput);
                return;
            }
            var shape = new PoolShape(Conv.Batch, Conv.OutChannels, Conv.OutHeight, Conv.OutWidth, Pool, Pool);
            // Garbage in the convolution's output gradient: the block's backward overwrites it.
            using var convGrad = _kernels.Upload(Enumerable.Repeat(double.NaN, Conv.OutputLength).ToArray());
            _kernels.BatchNormReluMaxPoolBackward(pooledGrad, Argmax.View, ConvOutput.View, Gamma.View, Beta.View, Mean.View, InvStd.View,
                convGrad.View, GammaGrad.View, BetaGrad.View, shape, accumulateInput: false);
            _kernels.Conv2dBackward(Input.View, Weight.View, convGrad.View, inputGrad, WeightGrad.View, BiasGrad.View, Conv, accumulateInput);
        }

        public double[][] Gradients() =>
            [_kernels.Download(InputGrad), _kernels.Download(WeightGrad), _kernels.Download(BiasGrad), _kernels.Download(GammaGrad), _kernels.Download(BetaGrad)];

        public void Dispose()
        {
            foreach (var buffer in _buffers)
                buffer.Dispose();
            Argmax.Dispose();
        }
    }

    private static readonly string[] Names = ["input", "weight", "bias", "gamma", "beta"];

    /// <summary>Both ways from the same draws, each backward run twice with different pooled gradients (the second adds to the first).</summary>
    private double[][][] BothWays(string device, int index, bool accumulateInput = true)
    {
        var kernels = fixture.Kernels(device);
        var (conv, inputGradient) = Cases[index];
        return [.. new[] { false, true }.Select(fused =>
        {
            var rng = new Random(47_000 + index);
            using var block = new DeviceBlock(kernels, conv, rng);
            using var first = kernels.Upload(Uniform(rng, conv.OutputLength / (Pool * Pool)));
            using var second = kernels.Upload(Uniform(rng, conv.OutputLength / (Pool * Pool)));
            block.Backward(first.View, fused, inputGradient, accumulateInput);
            var once = block.Gradients();
            block.Backward(second.View, fused, inputGradient, accumulateInput);
            return new[] { once, block.Gradients() }.SelectMany(g => g).ToArray();
        })];
    }

    [Theory]
    [MemberData(nameof(DevicesAndCases))]
    public void ThreeLaunchesGiveTheBitsOfBlockBackwardThenConvBackward(string device, int index)
    {
        Assert.True(CudaKernels.BackwardFusesBlock(Cases[index].Conv, Pool, Cases[index].InputGradient));
        var results = BothWays(device, index);
        var (unfused, fused) = (results[0], results[1]);
        for (int g = 0; g < unfused.Length; g++)
        {
            // The second run's totals come from its own gradient sums: a count left unreset, or stale totals, would show here.
            string what = $"{Names[g % Names.Length]} gradient after {(g < Names.Length ? "one backward" : "two")}";
            Assert.True(unfused[g].SequenceEqual(fused[g]), $"{Cases[index].Conv}: the {what} differs between three and four launches.");
        }
        // Not vacuous: the second backward moved the weight and gamma gradients.
        Assert.NotEqual(unfused[1], unfused[Names.Length + 1]);
        Assert.NotEqual(unfused[3], unfused[Names.Length + 3]);
    }

    [Theory]
    [MemberData(nameof(DevicesAndCases))]
    public void ThreeLaunchesMatchTheReferenceComposition(string device, int index)
    {
        // MaxPool2d → ReLU → BatchNorm2d → Conv2d backward by the Reference kernels (double), from the device forward's
        // choices and statistics. The conv bias's gradient is zero but for rounding (BatchNorm takes each channel's mean
        // out), so it is left to the bit-for-bit comparison above.
        var kernels = fixture.Kernels(device);
        var (conv, inputGradient) = Cases[index];
        var pool = new PoolShape(conv.Batch, conv.OutChannels, conv.OutHeight, conv.OutWidth, Pool, Pool);
        var normShape = new BatchNormShape(conv.Batch, conv.OutChannels, conv.OutHeight * conv.OutWidth);
        var rng = new Random(47_100 + index);
        using var block = new DeviceBlock(kernels, conv, rng);
        var pooledGrad = Uniform(rng, pool.OutputLength);
        using var pooledGradBuffer = kernels.Upload(pooledGrad);
        var prefilled = block.Gradients();
        block.Backward(pooledGradBuffer.View, fused: true, inputGradient);
        var actual = block.Gradients();

        var (input, weight, convOutput) = (kernels.Download(block.Input), kernels.Download(block.Weight), kernels.Download(block.ConvOutput));
        var (gamma, beta, mean, invStd) = (kernels.Download(block.Gamma), kernels.Download(block.Beta), kernels.Download(block.Mean), kernels.Download(block.InvStd));
        var normalised = new double[conv.OutputLength];
        for (int i = 0; i < normalised.Length; i++)
        {
            int c = i / normShape.Spatial % conv.OutChannels;
            normalised[i] = gamma[c] * ((convOutput[i] - mean[c]) * invStd[c]) + beta[c];
        }
        var reluOutputGrad = new double[conv.OutputLength];
        LeNet.Kernels.Reference.MaxPool2d.Backward<double>(pooledGrad, kernels.Download(block.Argmax), reluOutputGrad, pool);
        var normalisedGrad = new double[conv.OutputLength];
        LeNet.Kernels.Reference.ReLU.Backward<double>(normalised, reluOutputGrad, normalisedGrad);
        var (convGrad, gammaGrad, betaGrad) = (new double[conv.OutputLength], new double[conv.OutChannels], new double[conv.OutChannels]);
        LeNet.Kernels.Reference.BatchNorm2d.Backward<double>(normalisedGrad, convOutput, gamma, mean, invStd, convGrad, gammaGrad, betaGrad, normShape);
        var (inputGrad, weightGrad) = (new double[conv.InputLength], new double[conv.WeightLength]);
        LeNet.Kernels.Reference.Conv2d.BackwardInput<double>(convGrad, weight, inputGrad, conv);
        LeNet.Kernels.Reference.Conv2d.BackwardWeight<double>(input, convGrad, weightGrad, conv);

        if (inputGradient)
            AssertAccumulated(prefilled[0], inputGrad, actual[0], $"{conv}: input gradient");
        else
            Assert.Equal(prefilled[0], actual[0]); // not asked for: untouched
        AssertAccumulated(prefilled[1], weightGrad, actual[1], $"{conv}: weight gradient");
        AssertAccumulated(prefilled[3], gammaGrad, actual[3], $"{conv}: gamma gradient");
        AssertAccumulated(prefilled[4], betaGrad, actual[4], $"{conv}: beta gradient");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void InputGradientIsOverwrittenWithoutAccumulate(string device)
    {
        // LeNet's second block, its input gradient prefilled with draws that neither way may add to.
        var results = BothWays(device, 1, accumulateInput: false);
        Assert.True(results[0][0].SequenceEqual(results[1][0]));
        Assert.True(results[0][Names.Length].SequenceEqual(results[1][Names.Length]));
    }

    [Fact]
    public void RefusesWhatTheStagedBackwardDoesNotTake()
    {
        var kernels = fixture.Kernels(AcceleratorFixture.Cpu);
        var lenet1 = Cases[0].Conv;
        Assert.False(CudaKernels.BackwardFusesBlock(lenet1, Pool, inputGradient: true)); // 6 planes of 28×28 outputs do not fit
        Assert.False(CudaKernels.BackwardFusesBlock(lenet1, 3, inputGradient: false));   // 3×3 windows do not tile 28×28
        Assert.False(CudaKernels.BackwardFusesBlock(new ConvShape(1, 3, 30, 30, 1, 3, 3), Pool, inputGradient: false)); // the image does not fit
        using var buffer = kernels.Zeros(lenet1.InputLength * 8);
        using var argmax = kernels.Upload(new int[lenet1.OutputLength]);
        var e = Assert.Throws<ArgumentException>(() => kernels.Conv2dBatchNormReluMaxPoolBackward(buffer.View, buffer.View, buffer.View, buffer.View,
            argmax.View, buffer.View, buffer.View, buffer.View, buffer.View, buffer.View.SubView(0, lenet1.InputLength), buffer.View, buffer.View,
            buffer.View, buffer.View, lenet1, Pool));
        Assert.Contains("does not fit the staged backward", e.Message);
    }
}
