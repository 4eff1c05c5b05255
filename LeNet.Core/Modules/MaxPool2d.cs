using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

public sealed class MaxPool2d(int kernelSize, int? stride = null) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride ?? kernelSize;

    public override Tensor Forward(Tensor input) => F.MaxPool2d(input, KernelSize, Stride);
}
