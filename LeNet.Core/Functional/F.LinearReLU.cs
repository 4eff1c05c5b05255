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
            GradientTape.Record(output, Workspace.Node<LinearReLUBackward>().Set(input, weight, bias, output, shape),
                input, weight, bias);
        return output;
    }

    private sealed class LinearReLUBackward : Node
    {
        private Tensor _input = null!, _weight = null!, _output = null!;
        private Tensor? _bias;
        private LinearShape _shape;

        public LinearReLUBackward Set(Tensor input, Tensor weight, Tensor? bias, Tensor output, LinearShape shape)
        {
            (_input, _weight, _bias, _output, _shape) = (input, weight, bias, output, shape);
            return this;
        }

        public override void Backward(Tensor outputGrad) =>
            _input.Device.Backend.LinearReLUBackward(_input, _weight, _output, outputGrad, Target(_input),
                Target(_weight), Target(_bias), _shape);
    }
}
