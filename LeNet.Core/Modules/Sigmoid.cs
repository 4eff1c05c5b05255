using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

public sealed class Sigmoid : Module
{
    public override Tensor Forward(Tensor input) => F.Sigmoid(input);
}
