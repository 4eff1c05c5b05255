using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>tanh(x).</summary>
public sealed class Tanh : Module
{
    public override Tensor Forward(Tensor input) => F.Tanh(input);
}
