using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>F.ReLU(F.Linear(...)) fused (one launch each way on a GPU): the same values and gradients.</summary>
    public static Tensor LinearReLU(Tensor input, Tensor weight, Tensor? bias = null)
    {
        var shape = CheckLinear(input, weight, bias);
        var output = Workspace.Tensor(input.Device, [shape.Batch, shape.OutFeatures]);
        input.Device.Backend.LinearReLUForward(input, weight, bias, output, shape);
        if (GradientTape.ShouldRecord(input, weight, bias))
            GradientTape.Record(output, Workspace.Node<LinearReLUBackward>().Set((input, weight, bias, output, shape)),
                input, weight, bias);
        return output;
    }

    private sealed class LinearReLUBackward : SavingNode<LinearReLUBackward,
        (Tensor Input, Tensor Weight, Tensor? Bias, Tensor Output, LinearShape Shape)>
    {
        public override void Backward(Tensor outputGrad)
        {
            var (input, weight, bias, output, shape) = Saved;
            input.Device.Backend.LinearReLUBackward(input, weight, output, outputGrad, Target(input), Target(weight),
                Target(bias), shape);
        }
    }
}
