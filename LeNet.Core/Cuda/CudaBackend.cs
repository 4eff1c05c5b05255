using ILGPU;
using LeNet.Core.Autograd;
using LeNet.Core.Backends;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Training;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;

namespace LeNet.Core.Cuda;

/// <summary>
/// Each operation launches ILGPU kernels on the device's stream without waiting; only reading a tensor back waits. A
/// gradient to overwrite is passed to kernels as such, so no buffer is cleared that a kernel writes whole. Fused: a
/// linear layer with its ReLU (one launch each way), the convolution block (two launches forward, four backward) and
/// the classifier head with its loss (one each way, where <see cref="CudaKernels.HeadFits"/>).
/// </summary>
public sealed class CudaBackend : Backend
{
    internal CudaBackend(GpuDevice gpu)
    {
        Gpu = gpu;
        Kernels = new CudaKernels(gpu.Accelerator, gpu.Options);
    }

    public GpuDevice Gpu { get; }
    public GpuOptions Options => Gpu.Options;
    public CudaKernels Kernels { get; }

    /// <summary>Kernel launches and memsets queued so far on this device; of those, the memsets.</summary>
    public long Launches => Kernels.Launches;
    public long Memsets => Kernels.Memsets;
    public override DeviceMemory<T> Allocate<T>(int length) => CudaMemory<T>.Allocate(Kernels, length);
    public override void Synchronize() => Kernels.Synchronize();

    internal override BatchSource CreateBatchSource(Device device, float[] images, int[] labels, int[] imageShape) =>
        new DeviceDataset(device, images, labels, imageShape);

    internal override TrainingStep CreateTrainingStep(Module model, Optimizer optimizer, BatchSource data,
        int batchSize, bool cudaGraphs) =>
        new DeviceTrainingStep(model, optimizer, (DeviceDataset)data, batchSize, cudaGraphs);

    public override void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape) =>
        Kernels.Conv2dForward(V(input), V(weight), V(bias), V(output), shape);
    public override void Conv2dBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in ConvShape shape)
    {
        if (inputGrad is null && weightGrad is null && biasGrad is null) return;
        Cleared(weightGrad, biasGrad);
        Kernels.Conv2dBackward(V(input), V(weight), V(outputGrad),
            V(inputGrad), V(weightGrad), V(biasGrad), shape, Accumulates(inputGrad));
    }

    public override void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape) =>
        Kernels.MaxPool2dForward(V(input), V(output), V(argmax), shape);
    public override void MaxPool2dBackward(Tensor outputGrad, Indices argmax, GradientTarget inputGrad,
        in PoolShape shape) =>
        Kernels.MaxPool2dBackward(V(outputGrad), V(argmax), V(inputGrad), shape, Accumulates(inputGrad));

    public override void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape) =>
        Kernels.AvgPool2dForward(V(input), V(output), shape);
    public override void AvgPool2dBackward(Tensor outputGrad, GradientTarget inputGrad, in PoolShape shape) =>
        Kernels.AvgPool2dBackward(V(outputGrad), V(inputGrad), shape, Accumulates(inputGrad));

    public override void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean,
        Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape) =>
        Kernels.BatchNorm2dForwardTraining(V(input), V(gamma), V(beta), V(output), V(mean), V(invStd), V(runningMean),
            V(runningVar), momentum, eps, shape);
    public override void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor output, in BatchNormShape shape) =>
        Kernels.BatchNorm2dForwardInference(V(input), V(gamma), V(beta), V(runningMean), V(runningVar), eps, V(output),
            shape);

    // The kernel adds all three; a gradient nobody wants goes to a scratch tensor of the workspace.
    public override void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        GradientTarget? inputGrad, GradientTarget? gammaGrad, GradientTarget? betaGrad, in BatchNormShape shape)
    {
        Cleared(inputGrad, gammaGrad, betaGrad);
        Kernels.BatchNorm2dBackward(V(outputGrad), V(input), V(gamma), V(mean), V(invStd), OrScratch(inputGrad, input),
            OrScratch(gammaGrad, gamma), OrScratch(betaGrad, gamma), shape);
    }

    public override void ConvBlockForward(Tensor input, Tensor weight, Tensor? bias, Tensor gamma, Tensor beta,
        Tensor runningMean, Tensor runningVar, Tensor pooled, ConvBlockSaved? saved, float momentum, float eps,
        in ConvBlockShape shape)
    {
        if (saved is null)
        {
            // Evaluation needs no argmax (there is no backward), so the kernel writes none.
            var convOutput = shape.ConvOutput(input.Device);
            Conv2dForward(input, weight, bias, convOutput, shape.Conv);
            Kernels.BatchNormReLUMaxPoolForwardInference(V(convOutput), V(gamma), V(beta), V(runningMean),
                V(runningVar), eps, V(pooled), shape.Pooling);
        }
        else if (CudaKernels.ForwardIsStaged(shape.Conv))
        {
            // The convolution computes each plane's statistics as it writes its output; then normalise-ReLU-pool.
            Kernels.Conv2dBatchNormReLUMaxPoolForwardTraining(V(input), V(weight), V(bias), V(saved.ConvOutput),
                V(gamma), V(beta), V(pooled), V(saved.Argmax), V(saved.Mean), V(saved.InvStd), V(runningMean),
                V(runningVar), momentum, eps, shape.Conv, shape.Pool);
        }
        else
        {
            Conv2dForward(input, weight, bias, saved.ConvOutput, shape.Conv);
            Kernels.BatchNormReLUMaxPoolForwardTraining(V(saved.ConvOutput), V(gamma), V(beta), V(pooled),
                V(saved.Argmax), V(saved.Mean), V(saved.InvStd), V(runningMean), V(runningVar), momentum, eps,
                shape.Pooling);
        }
    }

    public override void ConvBlockBackward(Tensor pooledGrad, Tensor input, Tensor weight, Tensor gamma, Tensor beta,
        ConvBlockSaved saved, GradientTarget? inputGrad, GradientTarget? weightGrad, GradientTarget? biasGrad,
        GradientTarget? gammaGrad, GradientTarget? betaGrad, in ConvBlockShape shape)
    {
        // The block's gradient sums over chunks, then the convolution output's gradient (overwritten), then the conv's.
        var convGrad = shape.ConvOutput(input.Device);
        Cleared(gammaGrad, betaGrad);
        Kernels.BatchNormReLUMaxPoolBackward(V(pooledGrad), V(saved.Argmax), V(saved.ConvOutput), V(gamma), V(beta),
            V(saved.Mean), V(saved.InvStd), V(convGrad), OrScratch(gammaGrad, gamma), OrScratch(betaGrad, gamma),
            shape.Pooling, accumulateInput: false);
        Conv2dBackward(input, weight, convGrad, inputGrad, weightGrad, biasGrad, shape.Conv);
    }

    public override void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output,
        in LinearShape shape) => Kernels.LinearForward(V(input), V(weight), V(bias), V(output), shape);
    public override void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape) =>
        LinearBackward(input, weight, outputGrad, inputGrad, weightGrad, biasGrad, shape, reluOutput: null);

    public override void LinearReLUForward(Tensor input, Tensor weight, Tensor? bias, Tensor output,
        in LinearShape shape) => Kernels.LinearForward(V(input), V(weight), V(bias), V(output), shape, relu: true);
    public override void LinearReLUBackward(Tensor input, Tensor weight, Tensor output, Tensor outputGrad,
        GradientTarget? inputGrad, GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape) =>
        LinearBackward(input, weight, outputGrad, inputGrad, weightGrad, biasGrad, shape, reluOutput: output);

    // One launch for a linear layer's gradients (and its ReLU's, given its output), except where the input's and the
    // weight's share memory (F.Linear(h, h)): two groups of one launch could race on an element, so two launches.
    private void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape, Tensor? reluOutput)
    {
        if (inputGrad is null && weightGrad is null && biasGrad is null) return;
        if (inputGrad is { } i && weightGrad is { } w && i.Tensor.Overlaps(w.Tensor))
        {
            LinearBackward(input, weight, outputGrad, inputGrad, null, null, shape, reluOutput);
            LinearBackward(input, weight, outputGrad, null, weightGrad, biasGrad, shape, reluOutput);
            return;
        }
        Cleared(weightGrad, biasGrad);
        Kernels.LinearBackward(V(input), V(weight), V(outputGrad), V(inputGrad), V(weightGrad), V(biasGrad), shape,
            accumulateInput: Accumulates(inputGrad), reluOutput: V(reluOutput));
    }

    public override void HeadLossForward(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight,
        Tensor secondBias, Indices labels, Tensor loss, HeadLossSaved? saved, in HeadShape shape)
    {
        if (!FusesHead(shape, firstWeight, firstBias, secondWeight, secondBias))
        {
            base.HeadLossForward(input, firstWeight, firstBias, secondWeight, secondBias, labels, loss, saved, shape);
            return;
        }
        // One launch: the loss and, for a loss gradient of 1, every row's gradients down to the input.
        var device = input.Device;
        var hidden = saved?.Hidden ?? Workspace.Tensor(device, [shape.Batch, shape.Hidden]);
        var scratch = Workspace.Tensor(device, [shape.ScratchLength]);
        var unitInputGrad = saved is { InputGradWanted: true } ? Workspace.Tensor(device, input.Shape) : null;
        Kernels.HeadForwardBackward(V(input), V(firstWeight), V(firstBias), V(secondWeight), V(secondBias), V(labels),
            V(device.One), V(hidden), V(loss), V(scratch), V(unitInputGrad), shape, accumulateInput: false,
            writeLoss: true);
        if (saved is not null) (saved.Scratch, saved.UnitInputGrad, saved.Loss) = (scratch, unitInputGrad, loss);
    }

    public override void HeadLossBackward(Tensor? lossGrad, Tensor input, Tensor firstWeight, Tensor firstBias,
        Tensor secondWeight, Tensor secondBias, Indices labels, HeadLossSaved saved, GradientTarget? inputGrad,
        GradientTarget? firstWeightGrad, GradientTarget? firstBiasGrad, GradientTarget? secondWeightGrad,
        GradientTarget? secondBiasGrad, in HeadShape shape)
    {
        if (saved.Scratch is not { } scratch)
        {
            base.HeadLossBackward(lossGrad, input, firstWeight, firstBias, secondWeight, secondBias, labels, saved,
                inputGrad, firstWeightGrad, firstBiasGrad, secondWeightGrad, secondBiasGrad, shape);
            return;
        }
        // Another loss gradient than the forward's: the row kernel again, for it (the loss is already written).
        if (lossGrad is not null)
            Kernels.HeadForwardBackward(V(input), V(firstWeight), V(firstBias), V(secondWeight), V(secondBias),
                V(labels), V(lossGrad), V(saved.Hidden), V(saved.Loss), V(scratch), V(inputGrad), shape,
                Accumulates(inputGrad), writeLoss: false);
        if (firstWeightGrad is null && firstBiasGrad is null && secondWeightGrad is null && secondBiasGrad is null)
            return;
        Cleared(firstWeightGrad, firstBiasGrad, secondWeightGrad, secondBiasGrad);
        Kernels.HeadWeightGradients(V(input), V(saved.Hidden), V(scratch), V(firstWeightGrad), V(firstBiasGrad),
            V(secondWeightGrad), V(secondBiasGrad), shape);
    }

    // The head runs as the fused kernels where asked for, on a shape they take, with no two parameters sharing memory.
    private bool FusesHead(in HeadShape shape, Tensor a, Tensor b, Tensor c, Tensor d) =>
        Options.FuseHead && CudaKernels.HeadFits(shape)
        && !(a.Overlaps(b) || a.Overlaps(c) || a.Overlaps(d) || b.Overlaps(c) || b.Overlaps(d) || c.Overlaps(d));

    public override void ReLUForward(Tensor input, Tensor output) => Kernels.ReLUForward(V(input), V(output));
    public override void ReLUBackward(Tensor input, Tensor outputGrad, GradientTarget inputGrad) =>
        Kernels.ReLUBackward(V(input), V(outputGrad), V(inputGrad), Accumulates(inputGrad));

    public override void TanhForward(Tensor input, Tensor output) => Kernels.TanhForward(V(input), V(output));
    public override void TanhBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad) =>
        Kernels.TanhBackward(V(output), V(outputGrad), V(inputGrad), Accumulates(inputGrad));

    public override void SigmoidForward(Tensor input, Tensor output) => Kernels.SigmoidForward(V(input), V(output));
    public override void SigmoidBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad) =>
        Kernels.SigmoidBackward(V(output), V(outputGrad), V(inputGrad), Accumulates(inputGrad));

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss,
        Tensor? unitLogitsGrad)
    {
        var losses = Workspace.Tensor(logits.Device, [logits.Size(0)]);
        Kernels.SoftmaxCrossEntropyForward(V(logits), V(labels), V(probabilities), V(losses), V(loss), logits.Size(0),
            logits.Size(1), V(unitLogitsGrad), 1f, accumulateGradient: false);
    }

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad,
        GradientTarget logitsGrad) =>
        Kernels.SoftmaxCrossEntropyBackward(V(probabilities), V(labels), V(lossGrad), V(logitsGrad),
            probabilities.Size(0), probabilities.Size(1), Accumulates(logitsGrad));

    public override void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled,
        bool clearGradient) =>
        Kernels.AdamStep(V(parameter), V(grad), V(firstMoment), V(secondMoment), step, learningRate, beta1, beta2, eps,
            weightDecay, decoupled, clearGradient);

    public override void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov, bool clearGradient)
    {
        Kernels.SgdStep(V(parameter), V(grad), V(momentumBuffer), firstStep, learningRate, momentum, dampening,
            weightDecay, nesterov);
        if (clearGradient) Zero(grad);
    }

    public override void Accumulate(Tensor source, GradientTarget target) =>
        Kernels.Add(V(source), V(target), Accumulates(target));
    public override void AddScalar(GradientTarget target, float value) =>
        Kernels.AddScalar(V(target), value, Accumulates(target));

    public override void Zero(Tensor target)
    {
        if (target.Length > 0) Kernels.Clear(V(target));
    }

    /// <summary>Adam with its bias corrections read at the schedule's cursor; the same launch ends the step.</summary>
    internal void AdamScheduled(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment,
        StepSchedule schedule, float beta1, float beta2, float eps, float weightDecay, bool decoupled,
        bool clearGradient, Tensor loss, Tensor losses) =>
        Kernels.AdamScheduled(V(parameter), V(grad), V(firstMoment), V(secondMoment), V(schedule.AdamTable),
            V(schedule.Cursor), beta1, beta2, eps, weightDecay, decoupled, clearGradient, V(loss), V(losses));

    /// <summary>batchImages[b] = images[order[b]], batchLabels[b] = labels[order[b]].</summary>
    internal void Gather(Tensor images, Indices labels, Indices order, Tensor batchImages, Indices batchLabels,
        int imageLength) => Kernels.Gather(V(images), V(labels), V(order), V(batchImages), V(batchLabels), imageLength);

    internal void GatherAtCursor(Tensor images, Indices labels, Indices order, Indices cursor, int stride,
        Tensor batchImages, Indices batchLabels, int imageLength) =>
        Kernels.GatherAtCursor(V(images), V(labels), V(order), V(cursor), stride, V(batchImages), V(batchLabels),
            imageLength);

    internal void Augment(Tensor images, Indices labels, Indices order, Tensor batchImages, Indices batchLabels,
        int size, Augmentation augmentation, Indices seedAndEpoch) =>
        Kernels.Augment(V(images), V(labels), V(order), V(batchImages), V(batchLabels), size, augmentation,
            V(seedAndEpoch));

    internal void AugmentAtCursor(Tensor images, Indices labels, Indices order, Indices cursor, int stride,
        Tensor batchImages, Indices batchLabels, int size, Augmentation augmentation, Indices seedAndEpoch) =>
        Kernels.AugmentAtCursor(V(images), V(labels), V(order), V(cursor), stride, V(batchImages), V(batchLabels), size,
            augmentation, V(seedAndEpoch));

    /// <summary>losses[cursor] = loss, cursor += 1.</summary>
    internal void EndStep(Tensor loss, Tensor losses, Indices cursor) => Kernels.EndStep(V(loss), V(losses), V(cursor));

    /// <summary>False for a target to overwrite: the kernel about to run writes it whole.</summary>
    private static bool Accumulates(GradientTarget? target) => target is not { Overwrite: true };

    /// <summary>Clears, in turn, each target to overwrite before a kernel that only adds to it.</summary>
    private void Cleared(params ReadOnlySpan<GradientTarget?> targets)
    {
        foreach (var target in targets)
            if (target is { Overwrite: true } t) Zero(t.Tensor);
    }

    private static ArrayView<float> OrScratch(GradientTarget? target, Tensor like) =>
        V(target?.Tensor ?? Workspace.Tensor(like.Device, like.Shape));

    internal static ArrayView<float> V(Tensor? tensor) =>
        tensor is null ? default : ((CudaMemory<float>)tensor.Memory).View;
    internal static ArrayView<float> V(GradientTarget? target) => V(target?.Tensor);
    internal static ArrayView<int> V(Indices indices) => ((CudaMemory<int>)indices.Memory).View;
}
