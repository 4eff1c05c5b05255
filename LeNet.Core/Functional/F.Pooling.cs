using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>Input [N, C, H, W], a square window; stride defaults to the window size.</summary>
    public static Tensor MaxPool2d(Tensor input, int kernel, int? stride = null)
    {
        var shape = PoolShapeOf(input, kernel, stride ?? kernel, "MaxPool2d", "MaxPool2d input");
        var output = Workspace.Tensor(input.Device, [shape.Batch, shape.Channels, shape.OutHeight, shape.OutWidth]);
        var argmax = Workspace.Indices(input.Device, shape.OutputLength);
        input.Device.Backend.MaxPool2dForward(input, output, argmax, shape);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<MaxPool2dBackward>().Set((input, argmax, shape)), input);
        return output;
    }

    /// <summary>Input [N, C, H, W], a square window; stride defaults to the window size.</summary>
    public static Tensor AvgPool2d(Tensor input, int kernel, int? stride = null)
    {
        var shape = PoolShapeOf(input, kernel, stride ?? kernel, "AvgPool2d", "AvgPool2d input");
        var output = Workspace.Tensor(input.Device, [shape.Batch, shape.Channels, shape.OutHeight, shape.OutWidth]);
        input.Device.Backend.AvgPool2dForward(input, output, shape);
        if (GradientTape.ShouldRecord(input))
            GradientTape.Record(output, Workspace.Node<AvgPool2dBackward>().Set((input, shape)), input);
        return output;
    }

    // whatInput is passed ready-made: building it here would allocate a string on every call.
    private static PoolShape PoolShapeOf(Tensor input, int kernel, int stride, string what, string whatInput)
    {
        RequireRank(input, 4, whatInput, "[N, C, H, W]");
        if (kernel < 1)
            throw new ArgumentOutOfRangeException(nameof(kernel), kernel, $"{what} window must be at least 1.");
        if (stride < 1)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"{what} stride must be at least 1.");
        var shape = new PoolShape(input.Size(0), input.Size(1), input.Size(2), input.Size(3), kernel, stride);
        if (shape.OutHeight < 1 || shape.OutWidth < 1)
            throw new ArgumentException($"{what} window {kernel} does not fit input {Tensor.Format(input.Shape)}.");
        return shape;
    }

    private sealed class MaxPool2dBackward
        : SavingNode<MaxPool2dBackward, (Tensor Input, Indices Argmax, PoolShape Shape)>
    {
        public override void Backward(Tensor outputGrad) => Saved.Input.Device.Backend.MaxPool2dBackward(outputGrad,
            Saved.Argmax, Target(Saved.Input)!.Value, Saved.Shape);
    }

    private sealed class AvgPool2dBackward : SavingNode<AvgPool2dBackward, (Tensor Input, PoolShape Shape)>
    {
        public override void Backward(Tensor outputGrad) =>
            Saved.Input.Device.Backend.AvgPool2dBackward(outputGrad, Target(Saved.Input)!.Value, Saved.Shape);
    }
}
