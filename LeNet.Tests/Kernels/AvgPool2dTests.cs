using LeNet.Kernels;
using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class AvgPool2dTests
{
    [Theory]
    [InlineData(2, 3, 5, 7, 2, 2)] // non-square, odd: floor mode drops the last row and column
    [InlineData(2, 2, 7, 6, 3, 2)] // overlapping windows
    [InlineData(1, 2, 6, 6, 2, 2)]
    public void BackwardMatchesFiniteDifferences(int n, int c, int h, int w, int kernel, int stride)
    {
        var shape = new PoolShape(n, c, h, w, kernel, stride);
        var rng = new Random(3000 + h * 11 + w * 3 + kernel + stride);
        var input = Uniform(rng, shape.InputLength);
        var outputGrad = Uniform(rng, shape.OutputLength);
        var output = new double[shape.OutputLength];
        double Loss()
        {
            AvgPool2d.Forward<double>(input, output, shape);
            return Dot(output, outputGrad);
        }

        var inputGrad = new double[shape.InputLength];
        AvgPool2d.Backward<double>(outputGrad, inputGrad, shape);
        AssertGradient(inputGrad, Numerical(input, Loss), "avg-pool input");
        AssertAccumulates(rng, shape.InputLength, g =>
            AvgPool2d.Backward<double>(outputGrad, g, shape), "avg-pool Backward");
    }

    [Fact]
    public void ForwardIsTheWindowMeanAndFloorModeIgnoresTheLeftoverRowAndColumn()
    {
        var shape = new PoolShape(2, 2, 5, 7, 2, 2); // output 2×3: input row 4 and column 6 are never pooled
        var rng = new Random(3100);
        var input = Uniform(rng, shape.InputLength);
        var output = new double[shape.OutputLength];
        AvgPool2d.Forward<double>(input, output, shape);

        Assert.Equal(2, shape.OutHeight);
        Assert.Equal(3, shape.OutWidth);
        for (int plane = 0; plane < 4; plane++)
        for (int p = 0; p < 2; p++)
        for (int q = 0; q < 3; q++)
        {
            double X(int i, int j) => input[(plane * 5 + i) * 7 + j];
            double expected =
                (X(2 * p, 2 * q) + X(2 * p, 2 * q + 1) + X(2 * p + 1, 2 * q) + X(2 * p + 1, 2 * q + 1)) / 4;
            Assert.Equal(expected, output[(plane * 2 + p) * 3 + q], 1e-15);
        }

        var inputGrad = new double[shape.InputLength];
        AvgPool2d.Backward<double>(Uniform(rng, shape.OutputLength), inputGrad, shape);
        for (int plane = 0; plane < 4; plane++)
        {
            for (int j = 0; j < 7; j++)
                Assert.Equal(0.0, inputGrad[(plane * 5 + 4) * 7 + j]);
            for (int i = 0; i < 5; i++)
                Assert.Equal(0.0, inputGrad[(plane * 5 + i) * 7 + 6]);
        }
    }
}
