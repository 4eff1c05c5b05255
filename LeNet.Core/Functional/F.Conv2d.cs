using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>Input [N, C, H, W], weight [K, C, R, S], bias [K] or null → [N, K, P, Q].</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
    {
        var shape = ConvShapeOf(input, weight, bias, stride, padding);
        var output = Workspace.Tensor(input.Device, [shape.Batch, shape.OutChannels, shape.OutHeight, shape.OutWidth]);
        input.Device.Backend.Conv2dForward(input, weight, bias, output, shape);
        if (GradientTape.ShouldRecord(input, weight, bias))
            GradientTape.Record(output, Workspace.Node<Conv2dBackward>().Set((input, weight, bias, shape)), input,
                weight, bias);
        return output;
    }

    // Checks every argument, one sentence for each mistake.
    private static ConvShape ConvShapeOf(Tensor input, Tensor weight, Tensor? bias, int stride, int padding)
    {
        RequireRank(input, 4, "Conv2d input", "[N, C, H, W]");
        RequireRank(weight, 4, "Conv2d weight", "[K, C, R, S]");
        RequireSameDevice("Conv2d", input, weight, bias);
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "Stride must be at least 1.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "Padding cannot be negative.");
        var shape = new ConvShape(input.Size(0), input.Size(1), input.Size(2), input.Size(3),
            weight.Size(0), weight.Size(2), weight.Size(3), stride, padding);
        if (weight.Size(1) != shape.InChannels)
            throw new ArgumentException(
                $"Conv2d weight {Tensor.Format(weight.Shape)} expects {weight.Size(1)} input channels, but the input " +
                $"has {shape.InChannels}.");
        if (bias is not null) RequireShape(bias, "Conv2d bias", shape.OutChannels);
        if (shape.OutHeight < 1 || shape.OutWidth < 1)
            throw new ArgumentException(
                $"Conv2d kernel {weight.Size(2)}×{weight.Size(3)} does not fit input {Tensor.Format(input.Shape)} " +
                $"with padding {padding}.");
        return shape;
    }

    private sealed class Conv2dBackward
        : SavingNode<Conv2dBackward, (Tensor Input, Tensor Weight, Tensor? Bias, ConvShape Shape)>
    {
        public override void Backward(Tensor outputGrad)
        {
            var (input, weight, bias, shape) = Saved;
            input.Device.Backend.Conv2dBackward(input, weight, outputGrad, Target(input), Target(weight), Target(bias),
                shape);
        }
    }
}
