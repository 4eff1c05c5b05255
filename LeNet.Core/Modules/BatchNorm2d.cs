using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>Over [N, C, H, W]; PyTorch's names, initial values, momentum and eps.</summary>
public sealed class BatchNorm2d : Module
{
    public BatchNorm2d(int channels, float eps = 1e-5f, float momentum = 0.1f)
    {
        if (channels < 1)
            throw new ArgumentOutOfRangeException(nameof(channels), channels,
                "BatchNorm2d needs at least one channel.");
        (Eps, Momentum) = (eps, momentum);
        Weight = RegisterParameter("weight", Tensor.Full(1f, channels));
        Bias = RegisterParameter("bias", Tensor.Zeros(channels));
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(channels));
        RunningVar = RegisterBuffer("running_var", Tensor.Full(1f, channels));
    }

    public Tensor Weight { get; }
    public Tensor Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }
    public float Eps { get; }
    public float Momentum { get; }

    public override Tensor Forward(Tensor input) =>
        F.BatchNorm2d(input, Weight, Bias, RunningMean, RunningVar, Training, Momentum, Eps);
}
