using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>1/(1 + e^−x).</summary>
public sealed class Sigmoid : Module
{
    public override Tensor Forward(Tensor input) => F.Sigmoid(input);
}
