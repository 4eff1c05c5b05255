using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

public static partial class F
{
    public static Tensor ReLU(Tensor input)
    {
        var output = Workspace.Tensor(input.Device, input.Shape);
        input.Device.Backend.ReLUForward(input, output);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<ReLUBackward>().Set(input, output), input);
        return output;
    }

    public static Tensor Tanh(Tensor input)
    {
        var output = Workspace.Tensor(input.Device, input.Shape);
        input.Device.Backend.TanhForward(input, output);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<TanhBackward>().Set(input, output), input);
        return output;
    }

    public static Tensor Sigmoid(Tensor input)
    {
        var output = Workspace.Tensor(input.Device, input.Shape);
        input.Device.Backend.SigmoidForward(input, output);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<SigmoidBackward>().Set(input, output), input);
        return output;
    }

    // Keeps the input and output: recorded operations never modify them in place.
    private abstract class ElementwiseBackward<TSelf> : Node where TSelf : ElementwiseBackward<TSelf>
    {
        protected Tensor Input = null!, Output = null!;

        public TSelf Set(Tensor input, Tensor output)
        {
            (Input, Output) = (input, output);
            return (TSelf)this;
        }
    }

    private sealed class ReLUBackward : ElementwiseBackward<ReLUBackward>
    {
        public override void Backward(Tensor outputGrad) =>
            Input.Device.Backend.ReLUBackward(Input, outputGrad, Target(Input)!.Value);
    }

    // Tanh and sigmoid differentiate through their saved output.
    private sealed class TanhBackward : ElementwiseBackward<TanhBackward>
    {
        public override void Backward(Tensor outputGrad) =>
            Input.Device.Backend.TanhBackward(Output, outputGrad, Target(Input)!.Value);
    }

    private sealed class SigmoidBackward : ElementwiseBackward<SigmoidBackward>
    {
        public override void Backward(Tensor outputGrad) =>
            Input.Device.Backend.SigmoidBackward(Output, outputGrad, Target(Input)!.Value);
    }
}
