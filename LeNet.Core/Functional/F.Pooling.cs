using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>Max pooling of input [N, C, H, W] with a square window; stride defaults to the window size.</summary>
    public static Tensor MaxPool2d(Tensor input, int kernel, int? stride = null)
    {
        var shape = PoolShapeOf(input, kernel, stride ?? kernel, "MaxPool2d");
        var output = Tensor.Zeros(shape.Batch, shape.Channels, shape.OutHeight, shape.OutWidth);
        var argmax = new int[shape.OutputLength];
        input.Device.Backend.MaxPool2dForward(input, output, argmax, shape);
        GradientTape.Record(output, new MaxPool2dBackward(input, argmax, shape), input);
        return output;
    }

    /// <summary>Average pooling of input [N, C, H, W] with a square window; stride defaults to the window size.</summary>
    public static Tensor AvgPool2d(Tensor input, int kernel, int? stride = null)
    {
        var shape = PoolShapeOf(input, kernel, stride ?? kernel, "AvgPool2d");
        var output = Tensor.Zeros(shape.Batch, shape.Channels, shape.OutHeight, shape.OutWidth);
        input.Device.Backend.AvgPool2dForward(input, output, shape);
        GradientTape.Record(output, new AvgPool2dBackward(input, shape), input);
        return output;
    }

    private static PoolShape PoolShapeOf(Tensor input, int kernel, int stride, string what)
    {
        RequireRank(input, 4, $"{what} input", "[N, C, H, W]");
        if (kernel < 1) throw new ArgumentOutOfRangeException(nameof(kernel), kernel, $"{what} window must be at least 1.");
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, $"{what} stride must be at least 1.");
        var shape = new PoolShape(input.Size(0), input.Size(1), input.Size(2), input.Size(3), kernel, stride);
        if (shape.OutHeight < 1 || shape.OutWidth < 1)
            throw new ArgumentException($"{what} window {kernel} does not fit input {Tensor.Format(input.Shape)}.");
        return shape;
    }

    private sealed class MaxPool2dBackward(Tensor input, int[] argmax, PoolShape shape) : Node
    {
        public override void Backward(Tensor outputGrad) =>
            input.Device.Backend.MaxPool2dBackward(outputGrad, argmax, input.GradOrZeros(), shape);
    }

    private sealed class AvgPool2dBackward(Tensor input, PoolShape shape) : Node
    {
        public override void Backward(Tensor outputGrad) =>
            input.Device.Backend.AvgPool2dBackward(outputGrad, input.GradOrZeros(), shape);
    }
}
