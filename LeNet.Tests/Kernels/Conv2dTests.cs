using LeNet.Kernels;
using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class Conv2dTests
{
    [Theory]
    [InlineData(2, 3, 7, 6, 4, 3, 3, 1, 0)] // several channels, batch > 1, odd non-square input
    [InlineData(2, 2, 7, 7, 3, 3, 3, 2, 1)] // stride 2 and padding 1
    [InlineData(3, 1, 5, 8, 2, 5, 5, 1, 2)] // 5×5 "same" convolution, padding 2
    [InlineData(2, 3, 6, 5, 2, 3, 2, 2, 0)] // stride 2 drops the last row and column, non-square kernel
    [InlineData(1, 2, 5, 4, 3, 3, 2, 2, 1)] // stride 2, padding 1, non-square kernel, odd height
    public void BackwardMatchesFiniteDifferences(int n, int c, int h, int w, int k, int r, int s, int stride, int pad)
    {
        var shape = new ConvShape(n, c, h, w, k, r, s, stride, pad);
        var rng = new Random(1000 + n * 97 + c * 31 + h * 7 + w + stride * 13 + pad);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var bias = Uniform(rng, k);
        var outputGrad = Uniform(rng, shape.OutputLength); // R in L = Σ output·R, so ∂L/∂output = R
        var output = new double[shape.OutputLength];
        double Loss()
        {
            Conv2d.Forward<double>(input, weight, bias, output, shape);
            return Dot(output, outputGrad);
        }

        var inputGrad = new double[shape.InputLength];
        Conv2d.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
        AssertGradient(inputGrad, Numerical(input, Loss), "conv input");

        var weightGrad = new double[shape.WeightLength];
        Conv2d.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        AssertGradient(weightGrad, Numerical(weight, Loss), "conv weight");

        var biasGrad = new double[k];
        Conv2d.BackwardBias<double>(outputGrad, biasGrad, shape);
        AssertGradient(biasGrad, Numerical(bias, Loss), "conv bias");

        AssertAccumulates(rng, shape.InputLength, g =>
            Conv2d.BackwardInput<double>(outputGrad, weight, g, shape), "conv BackwardInput");
        AssertAccumulates(rng, shape.WeightLength, g =>
            Conv2d.BackwardWeight<double>(input, outputGrad, g, shape), "conv BackwardWeight");
        AssertAccumulates(rng, k, g => Conv2d.BackwardBias<double>(outputGrad, g, shape), "conv BackwardBias");
    }

    [Fact]
    public void ForwardMatchesHandComputedValidConvolution()
    {
        // One channel, 3×3 input, 2×2 kernel, stride 1, no padding: output[p,q] = b + Σ_{r,s} x[p+r, q+s]·w[r,s].
        var rng = new Random(1);
        var x = Uniform(rng, 9);
        var w = Uniform(rng, 4);
        double b = rng.NextDouble();
        var output = new double[4];
        Conv2d.Forward<double>(x, w, [b], output, new ConvShape(1, 1, 3, 3, 1, 2, 2));

        double X(int i, int j) => x[i * 3 + j];
        double[] expected =
        [
            b + X(0, 0) * w[0] + X(0, 1) * w[1] + X(1, 0) * w[2] + X(1, 1) * w[3],
            b + X(0, 1) * w[0] + X(0, 2) * w[1] + X(1, 1) * w[2] + X(1, 2) * w[3],
            b + X(1, 0) * w[0] + X(1, 1) * w[1] + X(2, 0) * w[2] + X(2, 1) * w[3],
            b + X(1, 1) * w[0] + X(1, 2) * w[1] + X(2, 1) * w[2] + X(2, 2) * w[3],
        ];
        for (int i = 0; i < 4; i++)
            Assert.Equal(expected[i], output[i], 1e-14);
    }

    [Fact]
    public void ForwardMatchesHandComputedStridedPaddedConvolution()
    {
        // One channel, 3×3 input, 3×3 kernel, stride 2, padding 1: a 2×2 output whose windows start at −1 and 1,
        // so each sees a 2×2 corner of the input against the opposite 2×2 corner of the kernel; the rest is padding.
        var rng = new Random(2);
        var x = Uniform(rng, 9);
        var w = Uniform(rng, 9);
        var output = new double[4];
        Conv2d.Forward<double>(x, w, [], output, new ConvShape(1, 1, 3, 3, 1, 3, 3, Stride: 2, Padding: 1));

        double X(int i, int j) => x[i * 3 + j];
        double Wt(int i, int j) => w[i * 3 + j];
        double[] expected =
        [
            X(0, 0) * Wt(1, 1) + X(0, 1) * Wt(1, 2) + X(1, 0) * Wt(2, 1) + X(1, 1) * Wt(2, 2),
            X(0, 1) * Wt(1, 0) + X(0, 2) * Wt(1, 1) + X(1, 1) * Wt(2, 0) + X(1, 2) * Wt(2, 1),
            X(1, 0) * Wt(0, 1) + X(1, 1) * Wt(0, 2) + X(2, 0) * Wt(1, 1) + X(2, 1) * Wt(1, 2),
            X(1, 1) * Wt(0, 0) + X(1, 2) * Wt(0, 1) + X(2, 1) * Wt(1, 0) + X(2, 2) * Wt(1, 1),
        ];
        for (int i = 0; i < 4; i++)
            Assert.Equal(expected[i], output[i], 1e-14);
    }

    [Fact]
    public void PaddingEqualsConvolvingAnExplicitlyZeroPaddedInput()
    {
        var rng = new Random(3);
        var padded = new ConvShape(2, 3, 5, 6, 2, 3, 3, Stride: 2, Padding: 1);
        var unpadded = padded with { Height = 7, Width = 8, Padding = 0 };
        var input = Uniform(rng, padded.InputLength);
        var weight = Uniform(rng, padded.WeightLength);
        var bias = Uniform(rng, 2);

        var zeroPadded = new double[unpadded.InputLength];
        for (int plane = 0; plane < 2 * 3; plane++)
        for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++)
            zeroPadded[(plane * 7 + i + 1) * 8 + j + 1] = input[(plane * 5 + i) * 6 + j];

        var expected = new double[unpadded.OutputLength];
        Conv2d.Forward<double>(zeroPadded, weight, bias, expected, unpadded);
        var actual = new double[padded.OutputLength];
        Conv2d.Forward<double>(input, weight, bias, actual, padded);
        Assert.True(RelativeError(expected, actual) < 1e-14);
    }

    [Fact]
    public void StrideTwoSamplesEveryOtherStrideOneOutput()
    {
        var rng = new Random(4);
        var strided = new ConvShape(2, 2, 7, 6, 3, 3, 2, Stride: 2, Padding: 1);
        var dense = strided with { Stride = 1 };
        var input = Uniform(rng, dense.InputLength);
        var weight = Uniform(rng, dense.WeightLength);
        var bias = Uniform(rng, 3);

        var full = new double[dense.OutputLength];
        Conv2d.Forward<double>(input, weight, bias, full, dense);
        var sampled = new double[strided.OutputLength];
        Conv2d.Forward<double>(input, weight, bias, sampled, strided);

        for (int plane = 0; plane < 2 * 3; plane++)
        for (int p = 0; p < strided.OutHeight; p++)
        for (int q = 0; q < strided.OutWidth; q++)
            Assert.Equal(full[(plane * dense.OutHeight + 2 * p) * dense.OutWidth + 2 * q],
                sampled[(plane * strided.OutHeight + p) * strided.OutWidth + q]);
    }

    [Fact]
    public void ForwardOverwritesAndEmptyBiasMeansNone()
    {
        var rng = new Random(5);
        var shape = new ConvShape(2, 2, 5, 5, 3, 3, 3);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var withZeroBias = new double[shape.OutputLength];
        Conv2d.Forward<double>(input, weight, new double[3], withZeroBias, shape);
        var withoutBias = Uniform(rng, shape.OutputLength); // stale contents must be overwritten
        Conv2d.Forward<double>(input, weight, [], withoutBias, shape);
        Assert.Equal(withZeroBias, withoutBias);
    }

    [Fact]
    public void WrongLengthsAreRejected()
    {
        var shape = new ConvShape(1, 2, 5, 5, 3, 3, 3);
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2d.Forward<double>(new double[shape.InputLength - 1], new double[shape.WeightLength], [],
                new double[shape.OutputLength], shape));
        Assert.Equal("input", ex.ParamName);
        Assert.Throws<ArgumentException>(() =>
            Conv2d.Forward<double>(new double[shape.InputLength], new double[shape.WeightLength], new double[2],
                new double[shape.OutputLength], shape));
        Assert.Throws<ArgumentException>(() =>
            Conv2d.BackwardWeight<double>(new double[shape.InputLength], new double[shape.OutputLength],
                new double[shape.WeightLength + 1], shape));
    }
}
