using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

public sealed class Tanh : Module
{
    public override Tensor Forward(Tensor input) => F.Tanh(input);
}
