using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>max(x, 0).</summary>
public sealed class ReLU : Module
{
    public override Tensor Forward(Tensor input) => F.ReLU(input);
}
