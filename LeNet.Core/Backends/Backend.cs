using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Training;
using LeNet.Kernels;

namespace LeNet.Core.Backends;

/// <summary>
/// Maps each tensor operation to the kernels of one device. Forward methods overwrite their outputs; backward methods
/// write each gradient into a <see cref="GradientTarget"/> (overwriting or adding, as the tape says); what a forward
/// saves for its backward is an explicit argument. The blocks compose the parts here; a backend with a fused kernel
/// overrides them.
/// </summary>
public abstract class Backend
{
    /// <summary>Device memory on this backend's device (GPU backends only).</summary>
    public virtual DeviceMemory<T> Allocate<T>(int length) where T : unmanaged =>
        throw new NotSupportedException($"{GetType().Name} keeps tensors in host memory.");

    /// <summary>Waits until every operation queued on the device has finished (none on the host).</summary>
    public virtual void Synchronize() { }

    internal virtual BatchSource CreateBatchSource(Device device, float[] images, int[] labels, int[] imageShape) =>
        new HostBatchSource(device, images, labels, imageShape);

    internal virtual TrainingStep CreateTrainingStep(Module model, Optimizer optimizer, BatchSource data, int batchSize,
        bool cudaGraphs) => new HostTrainingStep(model, optimizer, data, batchSize);

    public abstract void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape);
    // Backward methods: a null target is a gradient nobody wants.
    public abstract void Conv2dBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in ConvShape shape);
    public abstract void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape);
    public abstract void MaxPool2dBackward(Tensor outputGrad, Indices argmax, GradientTarget inputGrad,
        in PoolShape shape);
    public abstract void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape);
    public abstract void AvgPool2dBackward(Tensor outputGrad, GradientTarget inputGrad, in PoolShape shape);
    public abstract void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean,
        Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape);
    public abstract void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor output, in BatchNormShape shape);
    public abstract void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        GradientTarget? inputGrad, GradientTarget? gammaGrad, GradientTarget? betaGrad, in BatchNormShape shape);
    public abstract void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape);
    public abstract void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape);
    public abstract void ReLUForward(Tensor input, Tensor output);
    public abstract void ReLUBackward(Tensor input, Tensor outputGrad, GradientTarget inputGrad);
    public abstract void TanhForward(Tensor input, Tensor output);
    public abstract void TanhBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad);
    public abstract void SigmoidForward(Tensor input, Tensor output);
    public abstract void SigmoidBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad);

    // Given unitLogitsGrad, also writes ∂loss/∂logits for a loss gradient of 1 (what a pass from this loss needs).
    public abstract void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss,
        Tensor? unitLogitsGrad);
    public abstract void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad,
        GradientTarget logitsGrad);

    // Optimiser updates: with clearGradient the gradient is left at zero (ready to add to).
    public abstract void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled, bool clearGradient);
    public abstract void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov, bool clearGradient);

    /// <summary>target (+)= source, elementwise.</summary>
    public abstract void Accumulate(Tensor source, GradientTarget target);

    /// <summary>target (+)= value (the seed of a backward pass from a leaf is a gradient of one).</summary>
    public abstract void AddScalar(GradientTarget target, float value);

    public abstract void Zero(Tensor target);

    // ---- Blocks: the parts in turn, unless a backend fuses them ----

    /// <summary>output = max(input · weightᵀ + bias, 0).</summary>
    public virtual void LinearReLUForward(Tensor input, Tensor weight, Tensor? bias, Tensor output,
        in LinearShape shape)
    {
        LinearForward(input, weight, bias, output, shape);
        ReLUForward(output, output);
    }

    // From the block's output: the ReLU passes a gradient where its output is positive, which is where its input was.
    public virtual void LinearReLUBackward(Tensor input, Tensor weight, Tensor output, Tensor outputGrad,
        GradientTarget? inputGrad, GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape)
    {
        var preActivationGrad = Workspace.Tensor(output.Device, output.Shape);
        ReLUBackward(output, outputGrad, new GradientTarget(preActivationGrad, Overwrite: true));
        LinearBackward(input, weight, preActivationGrad, inputGrad, weightGrad, biasGrad, shape);
    }

    // pooled = MaxPool2d(ReLU(BatchNorm2d(Conv2d(input)))): in training (saved given) with the batch statistics,
    // moving the running ones, and saving what the backward needs; else with the running statistics.
    public virtual void ConvBlockForward(Tensor input, Tensor weight, Tensor? bias, Tensor gamma, Tensor beta,
        Tensor runningMean, Tensor runningVar, Tensor pooled, ConvBlockSaved? saved, float momentum, float eps,
        in ConvBlockShape shape)
    {
        var device = input.Device;
        var convOutput = saved?.ConvOutput ?? shape.ConvOutput(device);
        Conv2dForward(input, weight, bias, convOutput, shape.Conv);
        var activated = shape.ConvOutput(device);
        if (saved is null)
            BatchNorm2dForwardInference(convOutput, gamma, beta, runningMean, runningVar, eps, activated, shape.Norm);
        else
            BatchNorm2dForwardTraining(convOutput, gamma, beta, activated, saved.Mean, saved.InvStd, runningMean,
                runningVar, momentum, eps, shape.Norm);
        ReLUForward(activated, activated);
        var argmax = saved?.Argmax ?? Workspace.Indices(device, pooled.Length);
        MaxPool2dForward(activated, pooled, argmax, shape.Pooling);
        if (saved is not null) saved.Activated = activated;
    }

    public virtual void ConvBlockBackward(Tensor pooledGrad, Tensor input, Tensor weight, Tensor gamma, Tensor beta,
        ConvBlockSaved saved, GradientTarget? inputGrad, GradientTarget? weightGrad, GradientTarget? biasGrad,
        GradientTarget? gammaGrad, GradientTarget? betaGrad, in ConvBlockShape shape)
    {
        var device = input.Device;
        var activatedGrad = shape.ConvOutput(device);
        MaxPool2dBackward(pooledGrad, saved.Argmax, new GradientTarget(activatedGrad, Overwrite: true), shape.Pooling);
        var normalizedGrad = shape.ConvOutput(device);
        ReLUBackward(saved.Activated!, activatedGrad, new GradientTarget(normalizedGrad, Overwrite: true));
        var convGrad = shape.ConvOutput(device);
        BatchNorm2dBackward(normalizedGrad, saved.ConvOutput, gamma, saved.Mean, saved.InvStd,
            new GradientTarget(convGrad, Overwrite: true), gammaGrad, betaGrad, shape.Norm);
        Conv2dBackward(input, weight, convGrad, inputGrad, weightGrad, biasGrad, shape.Conv);
    }

    // loss = CrossEntropy(Linear(ReLU(Linear(input))), labels), the mean over the batch; saved: for the backward.
    public virtual void HeadLossForward(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight,
        Tensor secondBias, Indices labels, Tensor loss, HeadLossSaved? saved, in HeadShape shape)
    {
        var device = input.Device;
        var hidden = saved?.Hidden ?? Workspace.Tensor(device, [shape.Batch, shape.Hidden]);
        LinearReLUForward(input, firstWeight, firstBias, hidden, shape.First);
        var logits = Workspace.Tensor(device, [shape.Batch, shape.Classes]);
        LinearForward(hidden, secondWeight, secondBias, logits, shape.Second);
        var probabilities = Workspace.Tensor(device, [shape.Batch, shape.Classes]);
        SoftmaxCrossEntropyForward(logits, labels, probabilities, loss, unitLogitsGrad: null);
        if (saved is null) return;
        (saved.Logits, saved.Probabilities) = (logits, probabilities);
    }

    // A null lossGrad means 1 (the seed of a pass from this loss, which a fused forward prepared for); a null inputGrad
    // is wanted by nobody or handed over from HeadLossSaved.UnitInputGrad.
    public virtual void HeadLossBackward(Tensor? lossGrad, Tensor input, Tensor firstWeight, Tensor firstBias,
        Tensor secondWeight, Tensor secondBias, Indices labels, HeadLossSaved saved, GradientTarget? inputGrad,
        GradientTarget? firstWeightGrad, GradientTarget? firstBiasGrad, GradientTarget? secondWeightGrad,
        GradientTarget? secondBiasGrad, in HeadShape shape)
    {
        var device = input.Device;
        var logitsGrad = Workspace.Tensor(device, [shape.Batch, shape.Classes]);
        SoftmaxCrossEntropyBackward(saved.Probabilities!, labels, lossGrad ?? device.One,
            new GradientTarget(logitsGrad, Overwrite: true));
        var hiddenGrad = Workspace.Tensor(device, [shape.Batch, shape.Hidden]);
        LinearBackward(saved.Hidden, secondWeight, logitsGrad, new GradientTarget(hiddenGrad, Overwrite: true),
            secondWeightGrad, secondBiasGrad, shape.Second);
        LinearReLUBackward(input, firstWeight, saved.Hidden, hiddenGrad, inputGrad, firstWeightGrad, firstBiasGrad,
            shape.First);
    }
}
