using LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels;

/// <summary>Two steps of torch.optim.SGD written out by hand; lr = 0.1, momentum = 0.9.</summary>
public class SgdTests
{
    private const double Lr = 0.1, Momentum = 0.9;
    private static readonly double[] P0 = [0.5, -1.25, 2.0];
    private static readonly double[] G1 = [0.1, -0.3, 0.02];
    private static readonly double[] G2 = [-0.05, 0.4, 0.03];

    [Fact]
    public void PlainStepWithoutMomentumNeedsNoBuffer()
    {
        var parameter = (double[])P0.Clone();
        Sgd.Step<double>(parameter, G1, [], firstStep: true, Lr, momentum: 0, dampening: 0, weightDecay: 0,
            nesterov: false);
        for (int i = 0; i < 3; i++)
            Assert.Equal(P0[i] - 0.1 * G1[i], parameter[i], 1e-15);
    }

    [Fact]
    public void MomentumTwoStepsMatchHandComputation()
    {
        // Step 1: buf = g1; p1 = p0 − lr·g1.  Step 2: buf = 0.9·g1 + g2; p2 = p1 − lr·buf.
        var expected1 = new double[3];
        var expected2 = new double[3];
        for (int i = 0; i < 3; i++)
        {
            expected1[i] = P0[i] - 0.1 * G1[i];
            expected2[i] = expected1[i] - 0.1 * (0.9 * G1[i] + G2[i]);
        }
        RunTwoSteps(dampening: 0, weightDecay: 0, nesterov: false, expected1, expected2);
    }

    [Fact]
    public void DampeningSkipsTheFirstStepAndWeightDecayAddsToTheGradient()
    {
        // d = g + 0.01·p. Step 1: buf = d1 (no dampening on the first step, as PyTorch); p1 = p0 − lr·d1.
        // Step 2: buf = 0.9·d1 + (1 − 0.5)·d2; p2 = p1 − lr·buf.
        var expected1 = new double[3];
        var expected2 = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double d1 = G1[i] + 0.01 * P0[i];
            expected1[i] = P0[i] - 0.1 * d1;
            double d2 = G2[i] + 0.01 * expected1[i];
            expected2[i] = expected1[i] - 0.1 * (0.9 * d1 + 0.5 * d2);
        }
        RunTwoSteps(dampening: 0.5, weightDecay: 0.01, nesterov: false, expected1, expected2);
    }

    [Fact]
    public void NesterovTwoStepsMatchHandComputation()
    {
        // Step 1: buf = g1; p1 = p0 − lr·(g1 + 0.9·g1).  Step 2: buf = 0.9·g1 + g2; p2 = p1 − lr·(g2 + 0.9·buf).
        var expected1 = new double[3];
        var expected2 = new double[3];
        for (int i = 0; i < 3; i++)
        {
            expected1[i] = P0[i] - 0.1 * 1.9 * G1[i];
            expected2[i] = expected1[i] - 0.1 * (G2[i] + 0.9 * (0.9 * G1[i] + G2[i]));
        }
        RunTwoSteps(dampening: 0, weightDecay: 0, nesterov: true, expected1, expected2);
    }

    [Fact]
    public void NesterovWithDampeningIsRejected()
    {
        Assert.Throws<ArgumentException>(() =>
            Sgd.Step<double>(new double[3], new double[3], new double[3], true, Lr, Momentum, dampening: 0.1,
                weightDecay: 0, nesterov: true));
    }

    private static void RunTwoSteps(double dampening, double weightDecay, bool nesterov, double[] expected1,
        double[] expected2)
    {
        var parameter = (double[])P0.Clone();
        var buffer = new double[3];
        Sgd.Step<double>(parameter, G1, buffer, firstStep: true, Lr, Momentum, dampening, weightDecay, nesterov);
        for (int i = 0; i < 3; i++)
            Assert.Equal(expected1[i], parameter[i], 1e-12);
        Sgd.Step<double>(parameter, G2, buffer, firstStep: false, Lr, Momentum, dampening, weightDecay, nesterov);
        for (int i = 0; i < 3; i++)
            Assert.Equal(expected2[i], parameter[i], 1e-12);
    }
}
