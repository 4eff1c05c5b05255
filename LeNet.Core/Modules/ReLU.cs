using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

public sealed class ReLU : Module
{
    public override Tensor Forward(Tensor input) => F.ReLU(input);
}
