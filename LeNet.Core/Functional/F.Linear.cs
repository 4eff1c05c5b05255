using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>Input [N, In], weight [Out, In], bias [Out] or null → [N, Out].</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        var shape = CheckLinear(input, weight, bias);
        var output = Workspace.Tensor(input.Device, [shape.Batch, shape.OutFeatures]);
        input.Device.Backend.LinearForward(input, weight, bias, output, shape);
        if (GradientTape.ShouldRecord(input, weight, bias))
            GradientTape.Record(output, Workspace.Node<LinearBackward>().Set((input, weight, bias, shape)), input,
                weight, bias);
        return output;
    }

    private static LinearShape CheckLinear(Tensor input, Tensor weight, Tensor? bias)
    {
        RequireRank(input, 2, "Linear input", "[N, In]");
        RequireRank(weight, 2, "Linear weight", "[Out, In]");
        RequireSameDevice("Linear", input, weight, bias);
        var shape = new LinearShape(input.Size(0), input.Size(1), weight.Size(0));
        if (weight.Size(1) != shape.InFeatures)
            throw new ArgumentException(
                $"Linear weight {Tensor.Format(weight.Shape)} expects {weight.Size(1)} input features, " +
                $"but the input has {shape.InFeatures}.");
        if (bias is not null) RequireShape(bias, "Linear bias", shape.OutFeatures);
        return shape;
    }

    private sealed class LinearBackward
        : SavingNode<LinearBackward, (Tensor Input, Tensor Weight, Tensor? Bias, LinearShape Shape)>
    {
        public override void Backward(Tensor outputGrad)
        {
            var (input, weight, bias, shape) = Saved;
            input.Device.Backend.LinearBackward(input, weight, outputGrad, Target(input), Target(weight), Target(bias),
                shape);
        }
    }
}
