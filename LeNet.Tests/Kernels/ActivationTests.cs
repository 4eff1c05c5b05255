using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class ActivationTests
{
    private const int Length = 37;

    [Fact]
    public void ReLUBackwardMatchesFiniteDifferences()
    {
        var rng = new Random(6000);
        var input = AwayFromZero(rng, Length); // the kink at 0 is farther than the finite-difference step
        var outputGrad = Uniform(rng, Length);
        var output = new double[Length];
        double Loss()
        {
            ReLU.Forward<double>(input, output);
            return Dot(output, outputGrad);
        }

        var inputGrad = new double[Length];
        ReLU.Backward<double>(input, outputGrad, inputGrad);
        AssertGradient(inputGrad, Numerical(input, Loss), "ReLU input");
        AssertAccumulates(rng, Length, g => ReLU.Backward<double>(input, outputGrad, g), "ReLU Backward");
    }

    [Fact]
    public void ReLUForwardIsMaxWithZeroAndMayRunInPlace()
    {
        var rng = new Random(6001);
        var input = Uniform(rng, Length);
        var output = Uniform(rng, Length);
        ReLU.Forward<double>(input, output);
        for (int i = 0; i < Length; i++)
            Assert.Equal(input[i] > 0 ? input[i] : 0, output[i]);

        var inPlace = (double[])input.Clone();
        ReLU.Forward<double>(inPlace, inPlace);
        Assert.Equal(output, inPlace);

        var gradAtZero = new double[1];
        ReLU.Backward<double>([0.0], [1.0], gradAtZero);
        Assert.Equal(0.0, gradAtZero[0]);
    }

    [Fact]
    public void TanhBackwardMatchesFiniteDifferences()
    {
        var rng = new Random(6100);
        var input = Uniform(rng, Length, -3, 3);
        var outputGrad = Uniform(rng, Length);
        var output = new double[Length];
        double Loss()
        {
            Tanh.Forward<double>(input, output);
            return Dot(output, outputGrad);
        }

        Loss();
        var savedOutput = (double[])output.Clone();
        var inputGrad = new double[Length];
        Tanh.Backward<double>(savedOutput, outputGrad, inputGrad);
        AssertGradient(inputGrad, Numerical(input, Loss), "tanh input");
        AssertAccumulates(rng, Length, g => Tanh.Backward<double>(savedOutput, outputGrad, g), "tanh Backward");

        for (int i = 0; i < Length; i++)
            Assert.Equal(Math.Tanh(input[i]), savedOutput[i], 1e-15);
    }

    [Fact]
    public void SigmoidBackwardMatchesFiniteDifferences()
    {
        var rng = new Random(6200);
        var input = Uniform(rng, Length, -5, 5);
        var outputGrad = Uniform(rng, Length);
        var output = new double[Length];
        double Loss()
        {
            Sigmoid.Forward<double>(input, output);
            return Dot(output, outputGrad);
        }

        Loss();
        var savedOutput = (double[])output.Clone();
        var inputGrad = new double[Length];
        Sigmoid.Backward<double>(savedOutput, outputGrad, inputGrad);
        AssertGradient(inputGrad, Numerical(input, Loss), "sigmoid input");
        AssertAccumulates(rng, Length, g => Sigmoid.Backward<double>(savedOutput, outputGrad, g), "sigmoid Backward");

        for (int i = 0; i < Length; i++)
            Assert.Equal(1 / (1 + Math.Exp(-input[i])), savedOutput[i], 1e-15);
    }

    [Fact]
    public void SigmoidDoesNotOverflowForLargeInputs()
    {
        double[] input = [-1000, -745.5, -50, 50, 745.5, 1000];
        var output = new double[input.Length];
        Sigmoid.Forward<double>(input, output);
        Assert.All(output, y => Assert.True(double.IsFinite(y) && y >= 0 && y <= 1));
        Assert.Equal(0.0, output[0]);
        Assert.Equal(Math.Exp(-50), output[2], 1e-30);
        Assert.Equal(1.0, output[5]);

        float[] inputF = [-200f, -120f, 120f, 200f]; // e^−120 underflows in float
        var outputF = new float[4];
        Sigmoid.Forward<float>(inputF, outputF);
        Assert.Equal([0f, 0f, 1f, 1f], outputF);
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Tanh.Forward<double>(new double[3], new double[4]));
        Assert.Throws<ArgumentException>(() => ReLU.Backward<double>(new double[3], new double[3], new double[2]));
    }
}
