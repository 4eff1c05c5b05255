using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>max(x, 0), elementwise.</summary>
    public static Tensor ReLU(Tensor input)
    {
        var output = Tensor.ZerosLike(input);
        input.Device.Backend.ReLUForward(input, output);
        GradientTape.Record(output, new ReLUBackward(input), input);
        return output;
    }

    /// <summary>tanh(x), elementwise.</summary>
    public static Tensor Tanh(Tensor input)
    {
        var output = Tensor.ZerosLike(input);
        input.Device.Backend.TanhForward(input, output);
        GradientTape.Record(output, new TanhBackward(input, output), input);
        return output;
    }

    /// <summary>1/(1 + e^−x), elementwise.</summary>
    public static Tensor Sigmoid(Tensor input)
    {
        var output = Tensor.ZerosLike(input);
        input.Device.Backend.SigmoidForward(input, output);
        GradientTape.Record(output, new SigmoidBackward(input, output), input);
        return output;
    }

    private sealed class ReLUBackward(Tensor input) : Node
    {
        public override void Backward(Tensor outputGrad) =>
            input.Device.Backend.ReLUBackward(input, outputGrad, input.GradOrZeros());
    }

    // Tanh and sigmoid differentiate through their saved output; holding the output tensor itself here is safe
    // because tensors are never modified in place by recorded operations.
    private sealed class TanhBackward(Tensor input, Tensor output) : Node
    {
        public override void Backward(Tensor outputGrad) =>
            input.Device.Backend.TanhBackward(output, outputGrad, input.GradOrZeros());
    }

    private sealed class SigmoidBackward(Tensor input, Tensor output) : Node
    {
        public override void Backward(Tensor outputGrad) =>
            input.Device.Backend.SigmoidBackward(output, outputGrad, input.GradOrZeros());
    }
}
