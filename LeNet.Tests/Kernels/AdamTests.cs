using LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels;

/// <summary>Two steps of torch.optim.Adam / AdamW written out by hand: β1 = 0.9, β2 = 0.999, so 1 − β1¹ = 0.1,
/// 1 − β1² = 0.19, 1 − β2¹ = 0.001, 1 − β2² = 0.001999.</summary>
public class AdamTests
{
    private const double Lr = 0.01, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;
    private static readonly double[] P0 = [0.5, -1.25, 2.0];
    private static readonly double[] G1 = [0.1, -0.3, 0.02];
    private static readonly double[] G2 = [-0.05, 0.4, 0.03];

    [Fact]
    public void TwoStepsMatchHandComputedPyTorchAdam()
    {
        var expected1 = new double[3];
        var expected2 = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double m1 = 0.1 * G1[i];
            double v1 = 0.001 * G1[i] * G1[i];
            expected1[i] = P0[i] - (Lr / 0.1) * m1 / (Math.Sqrt(v1) / Math.Sqrt(0.001) + Eps);
            double m2 = 0.9 * m1 + 0.1 * G2[i];
            double v2 = 0.999 * v1 + 0.001 * G2[i] * G2[i];
            expected2[i] = expected1[i] - (Lr / 0.19) * m2 / (Math.Sqrt(v2) / Math.Sqrt(0.001999) + Eps);
        }
        RunTwoSteps(weightDecay: 0, decoupled: false, expected1, expected2);

        // Adam's first step moves every coordinate by almost exactly lr, whatever the gradient's scale.
        for (int i = 0; i < 3; i++)
            Assert.Equal(Lr, Math.Abs(expected1[i] - P0[i]), 1e-8);
    }

    [Fact]
    public void TwoStepsMatchHandComputedPyTorchAdamWithL2WeightDecay()
    {
        const double wd = 0.1;
        var expected1 = new double[3];
        var expected2 = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double g1 = G1[i] + wd * P0[i];
            double m1 = 0.1 * g1;
            double v1 = 0.001 * g1 * g1;
            expected1[i] = P0[i] - (Lr / 0.1) * m1 / (Math.Sqrt(v1) / Math.Sqrt(0.001) + Eps);
            double g2 = G2[i] + wd * expected1[i];
            double m2 = 0.9 * m1 + 0.1 * g2;
            double v2 = 0.999 * v1 + 0.001 * g2 * g2;
            expected2[i] = expected1[i] - (Lr / 0.19) * m2 / (Math.Sqrt(v2) / Math.Sqrt(0.001999) + Eps);
        }
        RunTwoSteps(wd, decoupled: false, expected1, expected2);
    }

    [Fact]
    public void TwoStepsMatchHandComputedPyTorchAdamW()
    {
        const double wd = 0.1;
        var expected1 = new double[3];
        var expected2 = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double m1 = 0.1 * G1[i];
            double v1 = 0.001 * G1[i] * G1[i];
            expected1[i] = P0[i] * (1 - Lr * wd) - (Lr / 0.1) * m1 / (Math.Sqrt(v1) / Math.Sqrt(0.001) + Eps);
            double m2 = 0.9 * m1 + 0.1 * G2[i];
            double v2 = 0.999 * v1 + 0.001 * G2[i] * G2[i];
            expected2[i] = expected1[i] * (1 - Lr * wd)
                - (Lr / 0.19) * m2 / (Math.Sqrt(v2) / Math.Sqrt(0.001999) + Eps);
        }
        RunTwoSteps(wd, decoupled: true, expected1, expected2);
    }

    [Fact]
    public void StepZeroIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Adam.Step<double>(new double[3], new double[3], new double[3], new double[3], 0, Lr, Beta1, Beta2, Eps, 0));
    }

    private static void RunTwoSteps(double weightDecay, bool decoupled, double[] expected1, double[] expected2)
    {
        var parameter = (double[])P0.Clone();
        var firstMoment = new double[3];
        var secondMoment = new double[3];
        var grad1 = (double[])G1.Clone();
        Adam.Step<double>(parameter, grad1, firstMoment, secondMoment, 1, Lr, Beta1, Beta2, Eps, weightDecay,
            decoupled);
        for (int i = 0; i < 3; i++)
            Assert.Equal(expected1[i], parameter[i], 1e-12);
        Adam.Step<double>(parameter, G2, firstMoment, secondMoment, 2, Lr, Beta1, Beta2, Eps, weightDecay, decoupled);
        for (int i = 0; i < 3; i++)
            Assert.Equal(expected2[i], parameter[i], 1e-12);
        Assert.Equal(G1, grad1); // grad is read only
    }
}
