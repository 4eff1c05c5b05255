using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>Weight [out, in, k, k], bias [out]; PyTorch's default initialisation.</summary>
public sealed class Conv2d : Module
{
    public Conv2d(int inChannels, int outChannels, int kernelSize, Random random, int stride = 1, int padding = 0,
        bool bias = true)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize < 1)
            throw new ArgumentException(
                $"Conv2d needs positive channel counts and kernel size, not ({inChannels}, {outChannels}, " +
                $"{kernelSize}).");
        (Stride, Padding) = (stride, padding);
        var fanIn = inChannels * kernelSize * kernelSize;
        Weight = RegisterParameter("weight", Tensor.Zeros(outChannels, inChannels, kernelSize, kernelSize));
        Init.KaimingUniform(Weight, fanIn, random);
        if (bias)
        {
            Bias = RegisterParameter("bias", Tensor.Zeros(outChannels));
            Init.BiasUniform(Bias, fanIn, random);
        }
    }

    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Stride { get; }
    public int Padding { get; }

    public override Tensor Forward(Tensor input) => F.Conv2d(input, Weight, Bias, Stride, Padding);
}
