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
        if (!backend.FusesBatchNormReLUMaxPool)
            throw new NotSupportedException($"The {input.Device} device has no fused BatchNorm2d-ReLU-MaxPool2d; apply the three operations in turn.");
        var shape = PoolShapeOf(input, kernel, kernel, "MaxPool2d", "BatchNorm2d input");
        var channels = shape.Channels;
        RequireShape(gamma, "BatchNorm2d weight", channels);
        RequireShape(beta, "BatchNorm2d bias", channels);
        RequireShape(runningMean, "BatchNorm2d running mean", channels);
        RequireShape(runningVar, "BatchNorm2d running variance", channels);
        var pooled = Workspace.Tensor(input.Device, [shape.Batch, channels, shape.OutHeight, shape.OutWidth]);
        var argmax = Workspace.Indices(input.Device, shape.OutputLength);
        if (!training)
        {
            backend.BatchNorm2dReLUMaxPoolForwardInference(input, gamma, beta, runningMean, runningVar, eps, pooled, argmax, shape);
            if (GradientTape.ShouldRecord(input, gamma, beta))
                GradientTape.Record(pooled, Workspace.Node<BatchNorm2dInferenceBackward>(), input, gamma, beta);
            return pooled;
        }
        if (shape.Batch * shape.Height * shape.Width < 2)
            throw new ArgumentException($"BatchNorm2d in training needs more than one value per channel, but input {Tensor.Format(input.Shape)} has one; use a larger batch or evaluation mode.");
        var mean = Workspace.Tensor(input.Device, [channels]);
        var invStd = Workspace.Tensor(input.Device, [channels]);
        backend.BatchNorm2dReLUMaxPoolForwardTraining(input, gamma, beta, pooled, argmax, mean, invStd, runningMean, runningVar, momentum, eps, shape);
        if (GradientTape.ShouldRecord(input, gamma, beta))
            GradientTape.Record(pooled, Workspace.Node<BatchNorm2dReLUMaxPool2dBackward>().Set(input, gamma, beta, mean, invStd, argmax, pooled, shape),
                input, gamma, beta);
        return pooled;
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
