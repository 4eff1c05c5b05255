using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

public class SoftmaxCrossEntropyTests
{
    [Theory]
    [InlineData(5, 7)]
    [InlineData(1, 10)]
    [InlineData(8, 2)]
    public void BackwardMatchesFiniteDifferences(int batch, int classes)
    {
        var rng = new Random(7000 + batch * 17 + classes);
        var logits = Uniform(rng, batch * classes, -3, 3);
        var labels = RandomLabels(rng, batch, classes);
        double lossGrad = Uniform(rng, 1, 0.5, 2)[0]; // L = lossGrad·loss, so ∂L/∂loss = lossGrad
        var probabilities = new double[batch * classes];
        double Loss() => lossGrad * SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, batch, classes);

        Loss();
        var savedProbabilities = (double[])probabilities.Clone();
        var logitsGrad = new double[batch * classes];
        SoftmaxCrossEntropy.Backward<double>(savedProbabilities, labels, lossGrad, logitsGrad, batch, classes);
        AssertGradient(logitsGrad, Numerical(logits, Loss), "softmax cross-entropy logits");
        AssertAccumulates(rng, batch * classes,
            g =>
                SoftmaxCrossEntropy.Backward<double>(savedProbabilities, labels, lossGrad, g, batch, classes),
                    "softmax cross-entropy Backward");
    }

    [Fact]
    public void ProbabilitiesSumToOneAndLossIsTheMeanNegativeLogProbabilityOfTheLabel()
    {
        const int batch = 6, classes = 10;
        var rng = new Random(7100);
        var logits = Uniform(rng, batch * classes, -4, 4);
        var labels = RandomLabels(rng, batch, classes);
        var probabilities = Uniform(rng, batch * classes); // stale contents must be overwritten
        double loss = SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, batch, classes);

        double expectedLoss = 0;
        for (int n = 0; n < batch; n++)
        {
            double sumExp = 0;
            for (int j = 0; j < classes; j++)
                sumExp += Math.Exp(logits[n * classes + j]);
            for (int j = 0; j < classes; j++)
                Assert.Equal(Math.Exp(logits[n * classes + j]) / sumExp, probabilities[n * classes + j], 1e-15);
            Assert.Equal(1.0, probabilities.AsSpan(n * classes, classes).ToArray().Sum(), 1e-14);
            expectedLoss += -Math.Log(Math.Exp(logits[n * classes + labels[n]]) / sumExp);
        }
        Assert.Equal(expectedLoss / batch, loss, 1e-14);
    }

    [Fact]
    public void LargeLogitsDoNotOverflow()
    {
        const int batch = 3, classes = 4;
        var rng = new Random(7200);
        var logits = Uniform(rng, batch * classes, -3, 3);
        var labels = RandomLabels(rng, batch, classes);
        var shifted = logits.Select(z => z + 1000).ToArray(); // e^1000 overflows; softmax is shift-invariant
        var probabilities = new double[batch * classes];
        double loss = SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, batch, classes);
        var shiftedProbabilities = new double[batch * classes];
        double shiftedLoss = SoftmaxCrossEntropy.Forward<double>(shifted, labels, shiftedProbabilities, batch, classes);

        Assert.True(double.IsFinite(shiftedLoss));
        Assert.Equal(loss, shiftedLoss, 1e-10);
        Assert.True(RelativeError(probabilities, shiftedProbabilities) < 1e-10);
    }

    [Fact]
    public void LabelsOutsideTheClassRangeAreRejected()
    {
        var probabilities = new double[6];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.Forward<double>(new double[6], [0, 3], probabilities, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.Forward<double>(new double[6], [-1, 0], probabilities, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.Backward<double>(probabilities, [2, 3], 1.0, new double[6], 2, 3));
        Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.Forward<double>(new double[6], [0], probabilities, 2, 3));
    }

    private static int[] RandomLabels(Random rng, int batch, int classes)
    {
        var labels = new int[batch];
        for (int n = 0; n < batch; n++)
            labels[n] = rng.Next(classes);
        return labels;
    }
}
