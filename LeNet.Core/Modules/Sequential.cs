using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>
/// Applies its modules in order; they are named "0", "1", ... as in PyTorch. Where BatchNorm2d, ReLU and MaxPool2d
/// (window = stride) follow each other, with or without a Conv2d before them, or Linear and ReLU, and the input's
/// backend fuses them, they run as one operation.
/// </summary>
public sealed class Sequential : Module
{
    private readonly Module[] _layers;

    public Sequential(params Module[] layers)
    {
        _layers = layers;
        for (var i = 0; i < layers.Length; i++) RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    public IReadOnlyList<Module> Layers => _layers;

    public override Tensor Forward(Tensor input)
    {
        for (var i = 0; i < _layers.Length; i++)
        {
            if (i + 3 < _layers.Length && _layers[i] is Conv2d conv && _layers[i + 1] is BatchNorm2d convNorm && _layers[i + 2] is ReLU
                && _layers[i + 3] is MaxPool2d convPool && convPool.KernelSize == convPool.Stride && input.Device.Backend.FusesBatchNormReLUMaxPool)
            {
                input = F.Conv2dBatchNorm2dReLUMaxPool2d(input, conv.Weight, conv.Bias, conv.Stride, conv.Padding, convNorm.Weight, convNorm.Bias,
                    convNorm.RunningMean, convNorm.RunningVar, convNorm.Training, convPool.KernelSize, convNorm.Momentum, convNorm.Eps);
                i += 3;
                continue;
            }
            if (i + 2 < _layers.Length && _layers[i] is BatchNorm2d norm && _layers[i + 1] is ReLU
                && _layers[i + 2] is MaxPool2d pool && pool.KernelSize == pool.Stride && input.Device.Backend.FusesBatchNormReLUMaxPool)
            {
                input = F.BatchNorm2dReLUMaxPool2d(input, norm.Weight, norm.Bias, norm.RunningMean, norm.RunningVar, norm.Training,
                    pool.KernelSize, norm.Momentum, norm.Eps);
                i += 2;
                continue;
            }
            if (i + 1 < _layers.Length && _layers[i] is Linear linear && _layers[i + 1] is ReLU && input.Device.Backend.FusesLinearReLU)
            {
                input = linear.ForwardReLU(input);
                i += 1;
                continue;
            }
            input = _layers[i].Forward(input);
        }
        return input;
    }
}
