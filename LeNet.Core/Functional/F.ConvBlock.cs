using LeNet.Core.Autograd;
using LeNet.Core.Backends;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// MaxPool2d(ReLU(BatchNorm2d(Conv2d(input)))), pooling window = stride, as one operation: the same values,
    /// running-statistics update and gradients as the four in turn.
    /// </summary>
    public static Tensor ConvBlock(Tensor input, Tensor weight, Tensor? bias, int stride, int padding, Tensor gamma,
        Tensor beta, Tensor runningMean, Tensor runningVar, bool training, int pool, float momentum = 0.1f,
        float eps = 1e-5f)
    {
        var conv = ConvShapeOf(input, weight, bias, stride, padding);
        RequireSameDevice("ConvBlock", input, gamma, runningMean);
        var channels = conv.OutChannels;
        RequireShape(gamma, "BatchNorm2d weight", channels);
        RequireShape(beta, "BatchNorm2d bias", channels);
        RequireShape(runningMean, "BatchNorm2d running mean", channels);
        RequireShape(runningVar, "BatchNorm2d running variance", channels);
        if (pool < 1) throw new ArgumentOutOfRangeException(nameof(pool), pool, "MaxPool2d window must be at least 1.");
        var shape = new ConvBlockShape(conv, pool);
        if (shape.Pooling.OutHeight < 1 || shape.Pooling.OutWidth < 1)
            throw new ArgumentException($"MaxPool2d window {pool} does not fit the convolution's output " +
                $"{Tensor.Format(shape.ConvOutputShape)}.");
        if (training && shape.Norm.CountPerChannel < 2)
            throw new ArgumentException(
                "BatchNorm2d in training needs more than one value per channel, but the convolution's " +
                $"output {Tensor.Format(shape.ConvOutputShape)} has one; use a larger batch or evaluation mode.");
        var device = input.Device;
        var pooled = shape.Output(device);
        if (!training)
        {
            device.Backend.ConvBlockForward(input, weight, bias, gamma, beta, runningMean, runningVar, pooled,
                saved: null, momentum, eps, shape);
            if (GradientTape.ShouldRecord(input, weight, bias, gamma, beta))
                GradientTape.Record(pooled, Workspace.Node<BatchNorm2dInferenceBackward>(), input, gamma, beta);
            return pooled;
        }
        var saved = Workspace.Object<ConvBlockSaved>();
        saved.ConvOutput = shape.ConvOutput(device);
        saved.Mean = Workspace.Tensor(device, [channels]);
        saved.InvStd = Workspace.Tensor(device, [channels]);
        saved.Argmax = Workspace.Indices(device, pooled.Length);
        saved.Pooled = pooled;
        saved.Activated = null;
        device.Backend.ConvBlockForward(input, weight, bias, gamma, beta, runningMean, runningVar, pooled, saved,
            momentum, eps, shape);
        if (GradientTape.ShouldRecord(input, weight, bias, gamma, beta))
            GradientTape.Record(pooled,
                Workspace.Node<ConvBlockBackward>().Set((input, weight, bias, gamma, beta, saved, shape)), input,
                weight, bias, gamma, beta);
        return pooled;
    }

    private sealed class ConvBlockBackward() : SavingNode<ConvBlockBackward, (Tensor Input, Tensor Weight,
        Tensor? Bias, Tensor Gamma, Tensor Beta, ConvBlockSaved Block, ConvBlockShape Shape)>(inputs: 5)
    {
        public override void Backward(Tensor outputGrad)
        {
            var (input, weight, bias, gamma, beta, block, shape) = Saved;
            input.Device.Backend.ConvBlockBackward(outputGrad, input, weight, gamma, beta, block, Target(input),
                Target(weight), Target(bias), Target(gamma), Target(beta), shape);
        }
    }
}
