using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// MaxPool2d(ReLU(BatchNorm2d(input))) with a square window equal to its stride, as one operation: the same values,
    /// running-statistics update and gradients as the three in turn, without writing the normalised or rectified
    /// tensors. Only on backends that fuse it (<see cref="Backends.Backend.FusesBatchNormReLUMaxPool"/>);
    /// <see cref="Modules.Sequential"/> uses it when the three layers follow each other.
    /// </summary>
    public static Tensor BatchNorm2dReLUMaxPool2d(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        bool training, int kernel, float momentum = 0.1f, float eps = 1e-5f)
    {
        var backend = input.Device.Backend;
        var shape = FusedBlockShapeOf(input, gamma, beta, runningMean, runningVar, training, kernel);
        var pooled = Workspace.Tensor(input.Device, [shape.Batch, shape.Channels, shape.OutHeight, shape.OutWidth]);
        var argmax = Workspace.Indices(input.Device, shape.OutputLength);
        if (!training)
        {
            backend.BatchNorm2dReLUMaxPoolForwardInference(input, gamma, beta, runningMean, runningVar, eps, pooled, argmax, shape);
            if (GradientTape.ShouldRecord(input, gamma, beta))
                GradientTape.Record(pooled, Workspace.Node<BatchNorm2dInferenceBackward>(), input, gamma, beta);
            return pooled;
        }
        var mean = Workspace.Tensor(input.Device, [shape.Channels]);
        var invStd = Workspace.Tensor(input.Device, [shape.Channels]);
        backend.BatchNorm2dReLUMaxPoolForwardTraining(input, gamma, beta, pooled, argmax, mean, invStd, runningMean, runningVar, momentum, eps, shape);
        RecordBatchNorm2dReLUMaxPool2d(input, gamma, beta, mean, invStd, argmax, pooled, shape);
        return pooled;
    }

    /// <summary>
    /// MaxPool2d(ReLU(BatchNorm2d(Conv2d(input)))) as one operation: in training, where the backend fuses it
    /// (<see cref="Backends.Backend.FusesConvBatchNormReLUMaxPool"/>), the convolution computes BatchNorm's statistics as
    /// it writes its output (one launch fewer on a GPU); otherwise, and in evaluation, <see cref="Conv2d"/> then
    /// <see cref="BatchNorm2dReLUMaxPool2d"/>. The same values, running-statistics update and gradients as the four in
    /// turn; fused, the backward is one operation (a GPU computes the convolution's output gradient as its backward stages
    /// it: one launch fewer). <see cref="Modules.Sequential"/> uses it when the four layers follow each other.
    /// </summary>
    public static Tensor Conv2dBatchNorm2dReLUMaxPool2d(Tensor input, Tensor weight, Tensor? bias, int stride, int padding,
        Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, bool training, int kernel, float momentum = 0.1f, float eps = 1e-5f)
    {
        var backend = input.Device.Backend;
        var conv = ConvShapeOf(input, weight, bias, stride, padding);
        if (!training || !backend.FusesConvBatchNormReLUMaxPool(conv))
            return BatchNorm2dReLUMaxPool2d(Conv2d(input, weight, bias, stride, padding), gamma, beta, runningMean, runningVar, training, kernel, momentum, eps);

        var convOutput = Workspace.Tensor(input.Device, [conv.Batch, conv.OutChannels, conv.OutHeight, conv.OutWidth]);
        var shape = FusedBlockShapeOf(convOutput, gamma, beta, runningMean, runningVar, training, kernel);
        var pooled = Workspace.Tensor(input.Device, [shape.Batch, shape.Channels, shape.OutHeight, shape.OutWidth]);
        var argmax = Workspace.Indices(input.Device, shape.OutputLength);
        var mean = Workspace.Tensor(input.Device, [shape.Channels]);
        var invStd = Workspace.Tensor(input.Device, [shape.Channels]);
        backend.Conv2dBatchNorm2dReLUMaxPoolForwardTraining(input, weight, bias, convOutput, gamma, beta, pooled, argmax, mean, invStd,
            runningMean, runningVar, momentum, eps, conv, kernel);
        if (GradientTape.ShouldRecord(input, weight, bias) || GradientTape.ShouldRecord(gamma, beta))
            GradientTape.Record(pooled, Workspace.Node<Conv2dBatchNorm2dReLUMaxPool2dBackward>().Set(input, weight, bias, convOutput, gamma, beta,
                mean, invStd, argmax, pooled, conv, shape), input, weight, bias, gamma, beta);
        return pooled;
    }

    /// <summary>The fused block's pool shape over <paramref name="input"/>, after checking the backend fuses it and every argument fits.</summary>
    private static PoolShape FusedBlockShapeOf(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, bool training, int kernel)
    {
        if (!input.Device.Backend.FusesBatchNormReLUMaxPool)
            throw new NotSupportedException($"The {input.Device} device has no fused BatchNorm2d-ReLU-MaxPool2d; apply the three operations in turn.");
        var shape = PoolShapeOf(input, kernel, kernel, "MaxPool2d", "BatchNorm2d input");
        var channels = shape.Channels;
        RequireShape(gamma, "BatchNorm2d weight", channels);
        RequireShape(beta, "BatchNorm2d bias", channels);
        RequireShape(runningMean, "BatchNorm2d running mean", channels);
        RequireShape(runningVar, "BatchNorm2d running variance", channels);
        if (training && shape.Batch * shape.Height * shape.Width < 2)
            throw new ArgumentException($"BatchNorm2d in training needs more than one value per channel, but input {Tensor.Format(input.Shape)} has one; use a larger batch or evaluation mode.");
        return shape;
    }

    private static void RecordBatchNorm2dReLUMaxPool2d(Tensor input, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Indices argmax, Tensor pooled, in PoolShape shape)
    {
        if (GradientTape.ShouldRecord(input, gamma, beta))
            GradientTape.Record(pooled, Workspace.Node<BatchNorm2dReLUMaxPool2dBackward>().Set(input, gamma, beta, mean, invStd, argmax, pooled, shape),
                input, gamma, beta);
    }

    /// <summary>
    /// The fused training block as one node (the convolution's output is not a node of its own): its backward is one
    /// backend call (<see cref="Backends.Backend.Conv2dBatchNorm2dReLUMaxPoolBackward"/>), which a GPU runs in four launches, or
    /// three with <see cref="Backends.CudaBackend.FusesBlockBackward"/>.
    /// </summary>
    private sealed class Conv2dBatchNorm2dReLUMaxPool2dBackward() : Node(inputs: 5)
    {
        private Tensor _input = null!, _weight = null!, _convOutput = null!, _gamma = null!, _beta = null!, _mean = null!, _invStd = null!, _pooled = null!;
        private Tensor? _bias;
        private Indices _argmax;
        private ConvShape _conv;
        private PoolShape _shape;

        public Conv2dBatchNorm2dReLUMaxPool2dBackward Set(Tensor input, Tensor weight, Tensor? bias, Tensor convOutput, Tensor gamma, Tensor beta,
            Tensor mean, Tensor invStd, Indices argmax, Tensor pooled, ConvShape conv, PoolShape shape)
        {
            (_input, _weight, _bias, _convOutput, _gamma, _beta) = (input, weight, bias, convOutput, gamma, beta);
            (_mean, _invStd, _argmax, _pooled, _conv, _shape) = (mean, invStd, argmax, pooled, conv, shape);
            return this;
        }

        public override void Backward(Tensor outputGrad) =>
            _input.Device.Backend.Conv2dBatchNorm2dReLUMaxPoolBackward(_input, _weight, _convOutput, outputGrad, _argmax, _pooled, _gamma, _beta,
                _mean, _invStd, GradIfRequired(_input), GradIfRequired(_weight), GradIfRequired(_bias), GradIfRequired(_gamma), GradIfRequired(_beta),
                _conv, _shape);
    }

    private sealed class BatchNorm2dReLUMaxPool2dBackward : Node
    {
        private Tensor _input = null!, _gamma = null!, _beta = null!, _mean = null!, _invStd = null!, _pooled = null!;
        private Indices _argmax;
        private PoolShape _shape;

        public BatchNorm2dReLUMaxPool2dBackward Set(Tensor input, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Indices argmax,
            Tensor pooled, PoolShape shape)
        {
            (_input, _gamma, _beta, _mean, _invStd, _argmax, _pooled, _shape) = (input, gamma, beta, mean, invStd, argmax, pooled, shape);
            return this;
        }

        // The kernel produces all three gradients; one that nobody asked for goes to a scratch tensor.
        public override void Backward(Tensor outputGrad) =>
            _input.Device.Backend.BatchNorm2dReLUMaxPoolBackward(outputGrad, _argmax, _pooled, _input, _gamma, _beta, _mean, _invStd,
                GradIfRequired(_input) ?? Tensor.ZerosLike(_input), GradIfRequired(_gamma) ?? Tensor.ZerosLike(_gamma),
                GradIfRequired(_beta) ?? Tensor.ZerosLike(_beta), _shape);
    }
}
