using LeNet.Kernels;
using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class BatchNorm2dTests
{
    private const double Momentum = 0.1, Eps = 1e-5;

    /// <summary>Per-channel random scale and offset, so channels differ and are far from already normalised.</summary>
    private static double[] ChannelledInput(Random rng, BatchNormShape shape)
    {
        var input = Uniform(rng, shape.Length);
        var scale = Uniform(rng, shape.Channels, 0.5, 3);
        var offset = Uniform(rng, shape.Channels, -2, 2);
        for (int n = 0; n < shape.Batch; n++)
        for (int c = 0; c < shape.Channels; c++)
        for (int s = 0; s < shape.Spatial; s++)
        {
            int i = (n * shape.Channels + c) * shape.Spatial + s;
            input[i] = input[i] * scale[c] + offset[c];
        }
        return input;
    }

    [Theory]
    [InlineData(3, 4, 5)]
    [InlineData(2, 3, 12)]
    [InlineData(7, 2, 1)] // BatchNorm over a [N, C] input
    public void BackwardMatchesFiniteDifferences(int n, int c, int spatial)
    {
        var shape = new BatchNormShape(n, c, spatial);
        var rng = new Random(4000 + n * 13 + c * 5 + spatial);
        var input = ChannelledInput(rng, shape);
        var gamma = Uniform(rng, c, 0.5, 1.5);
        var beta = Uniform(rng, c);
        var outputGrad = Uniform(rng, shape.Length);
        var output = new double[shape.Length];
        var mean = new double[c];
        var invStd = new double[c];
        double Loss()
        {
            // Running statistics are scratch here: they do not feed the training output.
            BatchNorm2d.ForwardTraining<double>(input, gamma, beta, output, mean, invStd, new double[c], new double[c],
                Momentum, Eps, shape);
            return Dot(output, outputGrad);
        }

        Loss();
        var savedMean = (double[])mean.Clone();
        var savedInvStd = (double[])invStd.Clone();
        var inputGrad = new double[shape.Length];
        var gammaGrad = new double[c];
        var betaGrad = new double[c];
        BatchNorm2d.Backward<double>(outputGrad, input, gamma, savedMean, savedInvStd, inputGrad, gammaGrad, betaGrad,
            shape);

        AssertGradient(inputGrad, Numerical(input, Loss), "batch-norm input");
        AssertGradient(gammaGrad, Numerical(gamma, Loss), "batch-norm gamma");
        AssertGradient(betaGrad, Numerical(beta, Loss), "batch-norm beta");

        AssertAccumulates(rng, shape.Length, g =>
            BatchNorm2d.Backward<double>(outputGrad, input, gamma, savedMean, savedInvStd, g, new double[c],
                new double[c], shape), "batch-norm inputGrad");
        AssertAccumulates(rng, c, g =>
            BatchNorm2d.Backward<double>(outputGrad, input, gamma, savedMean, savedInvStd, new double[shape.Length], g,
                new double[c], shape), "batch-norm gammaGrad");
        AssertAccumulates(rng, c, g =>
            BatchNorm2d.Backward<double>(outputGrad, input, gamma, savedMean, savedInvStd, new double[shape.Length],
                new double[c], g, shape), "batch-norm betaGrad");
    }

    [Fact]
    public void TrainingNormalisesEachChannelAndMovesRunningStatisticsWithTheUnbiasedVariance()
    {
        var shape = new BatchNormShape(4, 3, 6);
        var rng = new Random(4100);
        var input = ChannelledInput(rng, shape);
        var runningMean = Uniform(rng, 3);
        var runningVar = Uniform(rng, 3, 0.5, 2);
        var runningMeanBefore = (double[])runningMean.Clone();
        var runningVarBefore = (double[])runningVar.Clone();
        var output = new double[shape.Length];
        var mean = new double[3];
        var invStd = new double[3];
        BatchNorm2d.ForwardTraining<double>(input, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], output, mean, invStd, runningMean,
            runningVar, Momentum, Eps, shape);

        for (int c = 0; c < 3; c++)
        {
            var x = ChannelValues(input, shape, c);
            var y = ChannelValues(output, shape, c);
            double m = x.Average();
            double biased = x.Sum(v => (v - m) * (v - m)) / x.Length;
            double unbiased = x.Sum(v => (v - m) * (v - m)) / (x.Length - 1);

            Assert.Equal(m, mean[c], 1e-12);
            Assert.Equal(1 / Math.Sqrt(biased + Eps), invStd[c], 1e-12);

            double yMean = y.Average();
            double yVar = y.Sum(v => (v - yMean) * (v - yMean)) / y.Length;
            Assert.Equal(0, yMean, 1e-12);
            Assert.Equal(biased / (biased + Eps), yVar, 1e-12); // ≈ 1, short of it only by eps
            Assert.Equal(1, yVar, 1e-3);

            Assert.Equal(0.9 * runningMeanBefore[c] + 0.1 * m, runningMean[c], 1e-12);
            Assert.Equal(0.9 * runningVarBefore[c] + 0.1 * unbiased, runningVar[c], 1e-12);
        }
    }

    [Fact]
    public void InferenceUsesTheRunningStatistics()
    {
        var shape = new BatchNormShape(3, 2, 5);
        var rng = new Random(4200);
        var input = ChannelledInput(rng, shape);
        var gamma = Uniform(rng, 2, 0.5, 1.5);
        var beta = Uniform(rng, 2);
        var runningMean = Uniform(rng, 2);
        var runningVar = Uniform(rng, 2, 0.5, 2);
        var output = Uniform(rng, shape.Length); // stale contents must be overwritten
        BatchNorm2d.ForwardInference<double>(input, gamma, beta, runningMean, runningVar, Eps, output, shape);

        for (int n = 0; n < 3; n++)
        for (int c = 0; c < 2; c++)
        for (int s = 0; s < 5; s++)
        {
            int i = (n * 2 + c) * 5 + s;
            double expected = gamma[c] * (input[i] - runningMean[c]) / Math.Sqrt(runningVar[c] + Eps) + beta[c];
            Assert.Equal(expected, output[i], 1e-12);
        }
    }

    [Fact]
    public void TrainingWithOneValuePerChannelIsRejected()
    {
        var shape = new BatchNormShape(1, 2, 1);
        Assert.Throws<ArgumentException>(() => BatchNorm2d.ForwardTraining<double>(
            new double[2], new double[2], new double[2], new double[2], new double[2], new double[2], new double[2],
            new double[2], Momentum, Eps, shape));
    }

    private static double[] ChannelValues(double[] data, BatchNormShape shape, int c)
    {
        var values = new List<double>();
        for (int n = 0; n < shape.Batch; n++)
        for (int s = 0; s < shape.Spatial; s++)
            values.Add(data[(n * shape.Channels + c) * shape.Spatial + s]);
        return values.ToArray();
    }
}
