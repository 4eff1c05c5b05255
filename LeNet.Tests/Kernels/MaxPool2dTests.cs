using LeNet.Kernels;
using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class MaxPool2dTests
{
    [Theory]
    [InlineData(2, 3, 5, 7, 2, 2)] // odd sizes: floor mode drops the last row and column
    [InlineData(2, 2, 7, 6, 3, 2)] // overlapping windows
    [InlineData(1, 2, 6, 6, 2, 1)] // stride 1
    public void BackwardMatchesFiniteDifferences(int n, int c, int h, int w, int kernel, int stride)
    {
        var shape = new PoolShape(n, c, h, w, kernel, stride);
        var rng = new Random(2000 + h * 11 + w * 3 + kernel + stride);
        var input = Distinct(rng, shape.InputLength); // no ties, so ±h never moves the maximum
        var outputGrad = Uniform(rng, shape.OutputLength);
        var output = new double[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        double Loss()
        {
            MaxPool2d.Forward<double>(input, output, argmax, shape);
            return Dot(output, outputGrad);
        }

        Loss();
        var savedArgmax = (int[])argmax.Clone();
        var inputGrad = new double[shape.InputLength];
        MaxPool2d.Backward<double>(outputGrad, savedArgmax, inputGrad, shape);
        AssertGradient(inputGrad, Numerical(input, Loss), "max-pool input");
        AssertAccumulates(rng, shape.InputLength, g =>
            MaxPool2d.Backward<double>(outputGrad, savedArgmax, g, shape), "max-pool Backward");
    }

    [Theory]
    [InlineData(2, 3, 5, 7, 2, 2)]
    [InlineData(2, 2, 7, 6, 3, 2)]
    public void ArgmaxIsTheFlatInputIndexOfTheFirstWindowMaximum(int n, int c, int h, int w, int kernel, int stride)
    {
        var shape = new PoolShape(n, c, h, w, kernel, stride);
        var rng = new Random(2100 + h + w);
        // Values from {0, 1, 2}: many windows hold ties, which must resolve to the first maximum in row-major order.
        var input = new double[shape.InputLength];
        for (int i = 0; i < input.Length; i++)
            input[i] = rng.Next(3);
        var output = new double[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        MaxPool2d.Forward<double>(input, output, argmax, shape);

        int P = shape.OutHeight, Q = shape.OutWidth;
        for (int plane = 0; plane < n * c; plane++)
        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            int expected = -1;
            for (int r = 0; r < kernel; r++)
            for (int s = 0; s < kernel; s++)
            {
                int index = plane * h * w + (p * stride + r) * w + (q * stride + s);
                if (expected < 0 || input[index] > input[expected])
                    expected = index;
            }
            int o = (plane * P + p) * Q + q;
            Assert.Equal(expected, argmax[o]);
            Assert.Equal(input[expected], output[o]);
        }
    }

    [Fact]
    public void WrongLengthsAreRejected()
    {
        var shape = new PoolShape(1, 2, 4, 4, 2, 2);
        var ex = Assert.Throws<ArgumentException>(() =>
            MaxPool2d.Forward<double>(new double[shape.InputLength], new double[shape.OutputLength],
                new int[shape.OutputLength - 1], shape));
        Assert.Equal("argmax", ex.ParamName);
    }
}
