using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

public static partial class F
{
    public static Tensor ReLU(Tensor input)
    {
        var output = Workspace.Tensor(input.Device, input.Shape);
        input.Device.Backend.ReLUForward(input, output);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<ReLUBackward>().Set((input, output)), input);
        return output;
    }

    public static Tensor Tanh(Tensor input)
    {
        var output = Workspace.Tensor(input.Device, input.Shape);
        input.Device.Backend.TanhForward(input, output);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<TanhBackward>().Set((input, output)), input);
        return output;
    }

    public static Tensor Sigmoid(Tensor input)
    {
        var output = Workspace.Tensor(input.Device, input.Shape);
        input.Device.Backend.SigmoidForward(input, output);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<SigmoidBackward>().Set((input, output)), input);
        return output;
    }

    // An elementwise node keeps its input and output: recorded operations never modify them in place.
    private sealed class ReLUBackward : SavingNode<ReLUBackward, (Tensor Input, Tensor Output)>
    {
        public override void Backward(Tensor outputGrad) =>
            Saved.Input.Device.Backend.ReLUBackward(Saved.Input, outputGrad, Target(Saved.Input)!.Value);
    }

    // Tanh and sigmoid differentiate through their saved output.
    private sealed class TanhBackward : SavingNode<TanhBackward, (Tensor Input, Tensor Output)>
    {
        public override void Backward(Tensor outputGrad) =>
            Saved.Input.Device.Backend.TanhBackward(Saved.Output, outputGrad, Target(Saved.Input)!.Value);
    }

    private sealed class SigmoidBackward : SavingNode<SigmoidBackward, (Tensor Input, Tensor Output)>
    {
        public override void Backward(Tensor outputGrad) =>
            Saved.Input.Device.Backend.SigmoidBackward(Saved.Output, outputGrad, Target(Saved.Input)!.Value);
    }
}
