using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// Per channel of input [N, C, H, W]. In training it normalises with the batch statistics and moves
    /// runningMean/runningVar in place (momentum, unbiased variance); otherwise it uses the running statistics.
    /// </summary>
    public static Tensor BatchNorm2d(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        RequireRank(input, 4, "BatchNorm2d input", "[N, C, H, W]");
        RequireSameDevice("BatchNorm2d", input, gamma, runningMean);
        var channels = input.Size(1);
        RequireShape(gamma, "BatchNorm2d weight", channels);
        RequireShape(beta, "BatchNorm2d bias", channels);
        RequireShape(runningMean, "BatchNorm2d running mean", channels);
        RequireShape(runningVar, "BatchNorm2d running variance", channels);
        var shape = new BatchNormShape(input.Size(0), channels, input.Size(2) * input.Size(3));
        var output = Workspace.Tensor(input.Device, input.Shape);
        var backend = input.Device.Backend;
        if (!training)
        {
            backend.BatchNorm2dForwardInference(input, gamma, beta, runningMean, runningVar, eps, output, shape);
            if (GradientTape.ShouldRecord(input, gamma, beta))
                GradientTape.Record(output, Workspace.Node<BatchNorm2dInferenceBackward>(), input, gamma, beta);
            return output;
        }
        if (shape.CountPerChannel < 2)
            throw new ArgumentException(
                "BatchNorm2d in training needs more than one value per channel, but input " +
                $"{Tensor.Format(input.Shape)} has one; use a larger batch or evaluation mode.");
        var mean = Workspace.Tensor(input.Device, [channels]);
        var invStd = Workspace.Tensor(input.Device, [channels]);
        backend.BatchNorm2dForwardTraining(input, gamma, beta, output, mean, invStd, runningMean, runningVar, momentum,
            eps, shape);
        if (GradientTape.ShouldRecord(input, gamma, beta))
            GradientTape.Record(output, Workspace.Node<BatchNorm2dBackward>().Set((input, gamma, beta, mean, invStd,
                shape)), input, gamma, beta);
        return output;
    }

    private sealed class BatchNorm2dBackward : SavingNode<BatchNorm2dBackward,
        (Tensor Input, Tensor Gamma, Tensor Beta, Tensor Mean, Tensor InvStd, BatchNormShape Shape)>
    {
        public override void Backward(Tensor outputGrad)
        {
            var (input, gamma, beta, mean, invStd, shape) = Saved;
            input.Device.Backend.BatchNorm2dBackward(outputGrad, input, gamma, mean, invStd,
                Target(input), Target(gamma), Target(beta), shape);
        }
    }

    // Training through running statistics (fine-tuning a frozen BatchNorm) has no kernel yet; say so rather than
    // silently dropping the gradient.
    private sealed class BatchNorm2dInferenceBackward : Node
    {
        public override void Backward(Tensor outputGrad) => throw new NotSupportedException(
            "Backward through BatchNorm2d in evaluation mode is not supported; call Train() on the model before " +
            "computing gradients.");
    }
}
