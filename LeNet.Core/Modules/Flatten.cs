namespace LeNet.Core.Modules;

/// <summary>[N, d1, d2, ...] → [N, d1·d2·...], keeping the batch dimension.</summary>
public sealed class Flatten : Module
{
    public override Tensor Forward(Tensor input) => input.Reshape(input.Size(0), -1);
}
