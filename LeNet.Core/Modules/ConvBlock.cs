using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>
/// Conv2d → BatchNorm2d → ReLU → MaxPool2d (window = stride), run as one operation (F.ConvBlock). Its parts are
/// children named "0" to "3", as in a PyTorch Sequential, so state dicts line up (layer1.1.running_mean, ...).
/// </summary>
public sealed class ConvBlock : Module
{
    public ConvBlock(int inChannels, int outChannels, int kernelSize, int pool, Random random)
    {
        Conv = RegisterModule("0", new Conv2d(inChannels, outChannels, kernelSize, random));
        Norm = RegisterModule("1", new BatchNorm2d(outChannels));
        Activation = RegisterModule("2", new ReLU());
        Pool = RegisterModule("3", new MaxPool2d(pool));
    }

    public Conv2d Conv { get; }
    public BatchNorm2d Norm { get; }
    public ReLU Activation { get; }
    public MaxPool2d Pool { get; }

    public IReadOnlyList<Module> Layers => [Conv, Norm, Activation, Pool];

    public override Tensor Forward(Tensor input) =>
        F.ConvBlock(input, Conv.Weight, Conv.Bias, Conv.Stride, Conv.Padding, Norm.Weight, Norm.Bias, Norm.RunningMean,
            Norm.RunningVar, Training, Pool.KernelSize, Norm.Momentum, Norm.Eps);
}
