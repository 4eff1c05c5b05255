using LeNet.Kernels;
using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class LinearTests
{
    [Theory]
    [InlineData(3, 7, 5)]
    [InlineData(1, 4, 9)]
    [InlineData(5, 1, 2)]
    public void BackwardMatchesFiniteDifferences(int n, int inFeatures, int outFeatures)
    {
        var shape = new LinearShape(n, inFeatures, outFeatures);
        var rng = new Random(5000 + n * 31 + inFeatures * 7 + outFeatures);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var bias = Uniform(rng, outFeatures);
        var outputGrad = Uniform(rng, shape.OutputLength);
        var output = new double[shape.OutputLength];
        double Loss()
        {
            Linear.Forward<double>(input, weight, bias, output, shape);
            return Dot(output, outputGrad);
        }

        var inputGrad = new double[shape.InputLength];
        Linear.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
        AssertGradient(inputGrad, Numerical(input, Loss), "linear input");

        var weightGrad = new double[shape.WeightLength];
        Linear.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        AssertGradient(weightGrad, Numerical(weight, Loss), "linear weight");

        var biasGrad = new double[outFeatures];
        Linear.BackwardBias<double>(outputGrad, biasGrad, shape);
        AssertGradient(biasGrad, Numerical(bias, Loss), "linear bias");

        AssertAccumulates(rng, shape.InputLength, g =>
            Linear.BackwardInput<double>(outputGrad, weight, g, shape), "linear BackwardInput");
        AssertAccumulates(rng, shape.WeightLength, g =>
            Linear.BackwardWeight<double>(input, outputGrad, g, shape), "linear BackwardWeight");
        AssertAccumulates(rng, outFeatures, g =>
            Linear.BackwardBias<double>(outputGrad, g, shape), "linear BackwardBias");
    }

    [Fact]
    public void ForwardIsInputTimesWeightTransposedPlusBias()
    {
        // [2, 3] · [2, 3]ᵀ + [2], written out term by term.
        var rng = new Random(5100);
        var x = Uniform(rng, 6);
        var w = Uniform(rng, 6);
        var b = Uniform(rng, 2);
        var output = Uniform(rng, 4); // stale contents must be overwritten
        Linear.Forward<double>(x, w, b, output, new LinearShape(2, 3, 2));

        Assert.Equal(b[0] + x[0] * w[0] + x[1] * w[1] + x[2] * w[2], output[0], 1e-15);
        Assert.Equal(b[1] + x[0] * w[3] + x[1] * w[4] + x[2] * w[5], output[1], 1e-15);
        Assert.Equal(b[0] + x[3] * w[0] + x[4] * w[1] + x[5] * w[2], output[2], 1e-15);
        Assert.Equal(b[1] + x[3] * w[3] + x[4] * w[4] + x[5] * w[5], output[3], 1e-15);

        var withoutBias = new double[4];
        Linear.Forward<double>(x, w, [], withoutBias, new LinearShape(2, 3, 2));
        Assert.Equal(x[3] * w[3] + x[4] * w[4] + x[5] * w[5], withoutBias[3], 1e-15);
    }

    [Fact]
    public void WrongLengthsAreRejected()
    {
        var shape = new LinearShape(2, 3, 4);
        var ex = Assert.Throws<ArgumentException>(() =>
            Linear.Forward<double>(new double[6], new double[11], [], new double[8], shape));
        Assert.Equal("weight", ex.ParamName);
    }
}
