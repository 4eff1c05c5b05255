using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>Fully connected layer: input [N, In], weight [Out, In], bias [Out] or null → [N, Out].</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        RequireRank(input, 2, "Linear input", "[N, In]");
        RequireRank(weight, 2, "Linear weight", "[Out, In]");
        var shape = new LinearShape(input.Size(0), input.Size(1), weight.Size(0));
        if (weight.Size(1) != shape.InFeatures)
            throw new ArgumentException($"Linear weight {Tensor.Format(weight.Shape)} expects {weight.Size(1)} input features, but the input has {shape.InFeatures}.");
        if (bias is not null) RequireShape(bias, "Linear bias", shape.OutFeatures);

        var output = Tensor.Zeros(shape.Batch, shape.OutFeatures);
        input.Device.Backend.LinearForward(input, weight, bias, output, shape);
        GradientTape.Record(output, new LinearBackward(input, weight, bias, shape), input, weight, bias);
        return output;
    }

    private sealed class LinearBackward(Tensor input, Tensor weight, Tensor? bias, LinearShape shape) : Node
    {
        public override void Backward(Tensor outputGrad)
        {
            var backend = input.Device.Backend;
            if (GradIfRequired(input) is { } inputGrad) backend.LinearBackwardInput(outputGrad, weight, inputGrad, shape);
            if (GradIfRequired(weight) is { } weightGrad) backend.LinearBackwardWeight(input, outputGrad, weightGrad, shape);
            if (GradIfRequired(bias) is { } biasGrad) backend.LinearBackwardBias(outputGrad, biasGrad, shape);
        }
    }
}
