using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using static LeNet.Tests.Kernels.Cuda.DeviceData;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// The kernels that write an input gradient can overwrite instead of adding (accumulate: false), so that a gradient
/// buffer reused from the previous step needs no memset. Overwriting a buffer full of NaN must give exactly what adding
/// to zeros gives: every element written, none of the old contents read.
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class OverwriteCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private static void AssertOverwrites(CudaKernels kernels, int length, Action<ArrayView<float>, bool> write,
        string what)
    {
        using var zeros = kernels.Zeros(length);
        write(zeros.View, true);
        var expected = kernels.Download(zeros);
        using var stale = kernels.Upload(Enumerable.Repeat(double.NaN, length).ToArray());
        write(stale.View, false);
        var actual = kernels.Download(stale);
        Assert.Contains(expected, v => v != 0); // the case says something
        var first = Enumerable.Range(0, length).FirstOrDefault(i => !expected[i].Equals(actual[i]), -1);
        Assert.True(first < 0,
            $"{what}: overwriting a stale buffer differs from adding to zeros at {first}: " +
                $"{(first < 0 ? 0 : actual[first])}, not {(first < 0 ? 0 : expected[first])}.");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Elementwise_backward_kernels_overwrite(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_000);
        const int length = 1237;
        using var input = kernels.Upload(Uniform(rng, length));      // half negative: ReLU's mask matters
        using var saved = kernels.Upload(Uniform(rng, length, 0.05, 0.95));
        using var outputGrad = kernels.Upload(Uniform(rng, length));
        AssertOverwrites(kernels, length, (target, accumulate) =>
            kernels.ReLUBackward(input.View, outputGrad.View, target, accumulate), "ReLU backward");
        AssertOverwrites(kernels, length, (target, accumulate) =>
            kernels.TanhBackward(saved.View, outputGrad.View, target, accumulate), "tanh backward");
        AssertOverwrites(kernels, length, (target, accumulate) =>
            kernels.SigmoidBackward(saved.View, outputGrad.View, target, accumulate), "sigmoid backward");
        AssertOverwrites(kernels, length, (target, accumulate) =>
            kernels.Add(outputGrad.View, target, accumulate), "add");
        AssertOverwrites(kernels, length, (target, accumulate) =>
            kernels.AddScalar(target, 1f, accumulate), "add scalar");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Softmax_cross_entropy_backward_overwrites(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_100);
        const int batch = 37, classes = 10;
        using var probabilities = kernels.Upload(Uniform(rng, batch * classes, 0, 0.2));
        using var labels = kernels.Upload(Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray());
        using var lossGrad = kernels.Upload([1.0]);
        AssertOverwrites(kernels, batch * classes, (target, accumulate) =>
            kernels.SoftmaxCrossEntropyBackward(probabilities.View, labels.View, lossGrad.View, target, batch, classes,
                accumulate), "softmax-CE backward");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Pooling_backward_overwrites(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_200);
        var shape = new PoolShape(3, 2, 9, 9, 3, 2); // overlapping windows, and a last row and column no window reads
        using var input = kernels.Upload(Uniform(rng, shape.InputLength));
        using var output = kernels.Zeros(shape.OutputLength);
        using var argmax = kernels.Upload(new int[shape.OutputLength]);
        kernels.MaxPool2dForward(input.View, output.View, argmax.View, shape);
        using var outputGrad = kernels.Upload(Uniform(rng, shape.OutputLength));
        AssertOverwrites(kernels, shape.InputLength, (target, accumulate) =>
            kernels.MaxPool2dBackward(outputGrad.View, argmax.View, target, shape, accumulate), "max pool backward");
        AssertOverwrites(kernels, shape.InputLength, (target, accumulate) =>
            kernels.AvgPool2dBackward(outputGrad.View, target, shape, accumulate), "average pool backward");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Convolution_and_linear_input_gradients_overwrite(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_300);
        var conv = new ConvShape(2, 3, 11, 10, 4, 3, 3, Stride: 2, Padding: 1);
        using var input = kernels.Upload(Uniform(rng, conv.InputLength));
        using var weight = kernels.Upload(Uniform(rng, conv.WeightLength));
        using var outputGrad = kernels.Upload(Uniform(rng, conv.OutputLength));
        using var weightGrad = kernels.Zeros(conv.WeightLength);
        AssertOverwrites(kernels, conv.InputLength, (target, accumulate) =>
            kernels.Conv2dBackward(input.View, weight.View, outputGrad.View, target, weightGrad.View, default, conv,
                accumulate), "convolution input gradient");

        var linear = new LinearShape(5, 37, 13);
        using var features = kernels.Upload(Uniform(rng, linear.InputLength));
        using var linearWeight = kernels.Upload(Uniform(rng, linear.WeightLength));
        using var linearOutputGrad = kernels.Upload(Uniform(rng, linear.OutputLength));
        foreach (var mask in new[] { false, true })
            AssertOverwrites(kernels, linear.InputLength, (target, accumulate) =>
                kernels.LinearBackward(features.View, linearWeight.View, linearOutputGrad.View, target, default,
                    default, linear, maskInputByReLU: mask, accumulateInput: accumulate),
                $"linear input gradient (ReLU mask {mask})");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Fused_batchnorm_relu_maxpool_backward_overwrites(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(47_400);
        var shape = new PoolShape(5, 3, 8, 8, 2, 2);
        using var input = kernels.Upload(Uniform(rng, shape.InputLength));
        using var gamma = kernels.Upload(Uniform(rng, shape.Channels, 0.5, 1.5));
        using var beta = kernels.Upload(Uniform(rng, shape.Channels, -0.2, 0.2));
        using var mean = kernels.Zeros(shape.Channels);
        using var invStd = kernels.Zeros(shape.Channels);
        using var runningMean = kernels.Zeros(shape.Channels);
        using var runningVar = kernels.Upload(Enumerable.Repeat(1.0, shape.Channels).ToArray());
        using var pooled = kernels.Zeros(shape.OutputLength);
        using var argmax = kernels.Upload(new int[shape.OutputLength]);
        kernels.BatchNormReLUMaxPoolForwardTraining(input.View, gamma.View, beta.View, pooled.View, argmax.View,
            mean.View, invStd.View, runningMean.View, runningVar.View, 0.1f, 1e-5f, shape);
        using var pooledGrad = kernels.Upload(Uniform(rng, shape.OutputLength));
        using var gammaGrad = kernels.Zeros(shape.Channels);
        using var betaGrad = kernels.Zeros(shape.Channels);
        AssertOverwrites(kernels, shape.InputLength, (target, accumulate) =>
            kernels.BatchNormReLUMaxPoolBackward(pooledGrad.View, argmax.View, input.View, gamma.View, beta.View,
                mean.View, invStd.View, target, gammaGrad.View, betaGrad.View, shape, accumulate),
            "fused BatchNorm-ReLU-MaxPool input gradient");
    }
}
