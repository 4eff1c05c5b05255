using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;

namespace LeNet.Core.Backends;

/// <summary>
/// The GPU backend: every operation is one launch of an ILGPU kernel (<see cref="CudaKernels"/>) queued on the device's
/// stream, never waiting for it; only reading a tensor back (<see cref="Tensor.ToArray"/>, <see cref="Tensor.Item"/>)
/// waits. A linear layer's gradients are one launch together, a convolution's two, BatchNorm→ReLU→MaxPool two in each
/// direction (partial sums over chunks of planes, then the elementwise part) — a convolution with its block two forward
/// and four backward —, the classifier head fused with its loss one in each direction
/// (<see cref="FusesHeadCrossEntropy"/>). <see cref="Launches"/> counts the launches (kernels and memsets), for the benchmarks.
/// A gradient buffer reused in the next backward pass is not cleared (<see cref="ClearForReuse"/>): the first kernel
/// writing it overwrites instead of adding, which saves one memset per intermediate gradient and step.
/// </summary>
public sealed class CudaBackend(CudaKernels kernels) : Backend
{
    public CudaKernels Kernels { get; } = kernels;

    /// <summary>Kernel launches and memsets queued so far by this backend.</summary>
    public long Launches { get; private set; }

    /// <summary>Of the <see cref="Launches"/>, the memsets (clearing a gradient buffer).</summary>
    public long Memsets { get; private set; }

    public override void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape)
    {
        Launches++;
        Kernels.Conv2dForward(input.View, weight.View, View(bias), output.View, shape);
    }

    public override void Conv2dBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in ConvShape shape) =>
        Conv2dBackward(null, weight, outputGrad, inputGrad, null, null, shape);

    public override void Conv2dBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in ConvShape shape) =>
        Conv2dBackward(input, null, outputGrad, null, weightGrad, null, shape);

    public override void Conv2dBackwardBias(Tensor outputGrad, Tensor biasGrad, in ConvShape shape) =>
        Conv2dBackward(null, null, outputGrad, null, null, biasGrad, shape);

    public override void Conv2dBackward(Tensor? input, Tensor? weight, Tensor outputGrad, Tensor? inputGrad, Tensor? weightGrad, Tensor? biasGrad, in ConvShape shape)
    {
        if (inputGrad is null && weightGrad is null && biasGrad is null) return;
        Cleared(weightGrad, biasGrad);
        Launches += weightGrad is null && biasGrad is null ? 1 : 2; // the weight and bias partials are summed by a second launch
        Kernels.Conv2dBackward(View(input), View(weight), outputGrad.View, View(inputGrad), View(weightGrad), View(biasGrad), shape, Accumulates(inputGrad));
    }

    public override void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape)
    {
        Launches++;
        Kernels.MaxPool2dForward(input.View, output.View, argmax.View, shape);
    }

    public override void MaxPool2dBackward(Tensor outputGrad, Indices argmax, Tensor inputGrad, in PoolShape shape)
    {
        Launches++;
        Kernels.MaxPool2dBackward(outputGrad.View, argmax.View, inputGrad.View, shape, Accumulates(inputGrad));
    }

    public override void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape)
    {
        Launches++;
        Kernels.AvgPool2dForward(input.View, output.View, shape);
    }

    public override void AvgPool2dBackward(Tensor outputGrad, Tensor inputGrad, in PoolShape shape)
    {
        Launches++;
        Kernels.AvgPool2dBackward(outputGrad.View, inputGrad.View, shape, Accumulates(inputGrad));
    }

    public override void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean, Tensor invStd,
        Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape)
    {
        Launches++;
        Kernels.BatchNorm2dForwardTraining(input.View, gamma.View, beta.View, output.View, mean.View, invStd.View,
            runningMean.View, runningVar.View, momentum, eps, shape);
    }

    public override void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float eps, Tensor output, in BatchNormShape shape)
    {
        Launches++;
        Kernels.BatchNorm2dForwardInference(input.View, gamma.View, beta.View, runningMean.View, runningVar.View, eps, output.View, shape);
    }

    public override void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        Tensor? inputGrad, Tensor? gammaGrad, Tensor? betaGrad, in BatchNormShape shape)
    {
        // The kernel writes all three; a gradient nobody wants goes to a scratch tensor of the workspace.
        Cleared(inputGrad, gammaGrad, betaGrad);
        Launches++;
        Kernels.BatchNorm2dBackward(outputGrad.View, input.View, gamma.View, mean.View, invStd.View,
            (inputGrad ?? Scratch(input)).View, (gammaGrad ?? Scratch(gamma)).View, (betaGrad ?? Scratch(gamma)).View, shape);
    }

    public override bool FusesBatchNormReLUMaxPool => true;

    public override void BatchNorm2dReLUMaxPoolForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor pooledOutput, Indices argmax,
        Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in PoolShape shape)
    {
        Launches += 2; // the channel statistics over chunks, then normalise-ReLU-pool
        Kernels.BatchNormReluMaxPoolForwardTraining(input.View, gamma.View, beta.View, pooledOutput.View, argmax.View,
            mean.View, invStd.View, runningMean.View, runningVar.View, momentum, eps, shape);
    }

    public override bool FusesConvBatchNormReLUMaxPool(in ConvShape shape) => CudaKernels.ForwardIsStaged(shape);

    public override void Conv2dBatchNorm2dReLUMaxPoolForwardTraining(Tensor input, Tensor weight, Tensor? bias, Tensor convOutput, Tensor gamma, Tensor beta,
        Tensor pooledOutput, Indices argmax, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps,
        in ConvShape shape, int poolKernel)
    {
        Launches += 2; // the convolution with each plane's statistics, then normalise-ReLU-pool
        Kernels.Conv2dBatchNormReluMaxPoolForwardTraining(input.View, weight.View, View(bias), convOutput.View, gamma.View, beta.View,
            pooledOutput.View, argmax.View, mean.View, invStd.View, runningMean.View, runningVar.View, momentum, eps, shape, poolKernel);
    }

    public override void BatchNorm2dReLUMaxPoolForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor pooledOutput, Indices argmax, in PoolShape shape)
    {
        // Evaluation needs no argmax (there is no backward), so the kernel writes none.
        Launches++;
        Kernels.BatchNormReluMaxPoolForwardInference(input.View, gamma.View, beta.View, runningMean.View, runningVar.View, eps,
            pooledOutput.View, shape);
    }

    public override void BatchNorm2dReLUMaxPoolBackward(Tensor pooledGrad, Indices argmax, Tensor pooledOutput, Tensor input, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Tensor inputGrad, Tensor gammaGrad, Tensor betaGrad, in PoolShape shape)
    {
        Cleared(gammaGrad, betaGrad);
        Launches += 2; // the gradient sums over chunks, then the input gradient
        Kernels.BatchNormReluMaxPoolBackward(pooledGrad.View, argmax.View, input.View, gamma.View, beta.View, mean.View, invStd.View,
            inputGrad.View, gammaGrad.View, betaGrad.View, shape, Accumulates(inputGrad));
    }

    public override void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape)
    {
        Launches++;
        Kernels.LinearForward(input.View, weight.View, View(bias), output.View, shape);
    }

    public override void LinearBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in LinearShape shape) =>
        LinearBackward(null, weight, outputGrad, inputGrad, null, null, shape);

    public override void LinearBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in LinearShape shape) =>
        LinearBackward(input, null, outputGrad, null, weightGrad, null, shape);

    public override void LinearBackwardBias(Tensor outputGrad, Tensor biasGrad, in LinearShape shape) =>
        LinearBackward(null, null, outputGrad, null, null, biasGrad, shape);

    public override void LinearBackward(Tensor? input, Tensor? weight, Tensor outputGrad, Tensor? inputGrad, Tensor? weightGrad, Tensor? biasGrad, in LinearShape shape)
    {
        if (inputGrad is null && weightGrad is null && biasGrad is null) return;
        if (Overlap(inputGrad, weightGrad))
        {
            LinearBackward(input, weight, outputGrad, inputGrad, null, null, shape);
            LinearBackward(input, weight, outputGrad, null, weightGrad, biasGrad, shape);
            return;
        }
        Cleared(weightGrad, biasGrad);
        Launches++;
        Kernels.LinearBackward(View(input), View(weight), outputGrad.View, View(inputGrad), View(weightGrad), View(biasGrad), shape,
            accumulateInput: Accumulates(inputGrad));
    }

    public override bool FusesLinearReLU => true;

    public override void LinearReLUForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape)
    {
        Launches++;
        Kernels.LinearForward(input.View, weight.View, View(bias), output.View, shape, relu: true);
    }

    public override void LinearReLUBackward(Tensor input, Tensor weight, Tensor output, Tensor outputGrad, Tensor? inputGrad, Tensor? weightGrad,
        Tensor? biasGrad, in LinearShape shape)
    {
        if (inputGrad is null && weightGrad is null && biasGrad is null) return;
        if (Overlap(inputGrad, weightGrad))
        {
            LinearReLUBackward(input, weight, output, outputGrad, inputGrad, null, null, shape);
            LinearReLUBackward(input, weight, output, outputGrad, null, weightGrad, biasGrad, shape);
            return;
        }
        Cleared(weightGrad, biasGrad);
        Launches++;
        Kernels.LinearBackward(input.View, weight.View, outputGrad.View, View(inputGrad), View(weightGrad), View(biasGrad), shape,
            accumulateInput: Accumulates(inputGrad), reluOutput: output.View);
    }

    public override void ReLUForward(Tensor input, Tensor output)
    {
        Launches++;
        Kernels.ReluForward(input.View, output.View);
    }

    public override void ReLUBackward(Tensor input, Tensor outputGrad, Tensor inputGrad)
    {
        Launches++;
        Kernels.ReluBackward(input.View, outputGrad.View, inputGrad.View, Accumulates(inputGrad));
    }

    public override void TanhForward(Tensor input, Tensor output)
    {
        Launches++;
        Kernels.TanhForward(input.View, output.View);
    }

    public override void TanhBackward(Tensor output, Tensor outputGrad, Tensor inputGrad)
    {
        Launches++;
        Kernels.TanhBackward(output.View, outputGrad.View, inputGrad.View, Accumulates(inputGrad));
    }

    public override void SigmoidForward(Tensor input, Tensor output)
    {
        Launches++;
        Kernels.SigmoidForward(input.View, output.View);
    }

    public override void SigmoidBackward(Tensor output, Tensor outputGrad, Tensor inputGrad)
    {
        Launches++;
        Kernels.SigmoidBackward(output.View, outputGrad.View, inputGrad.View, Accumulates(inputGrad));
    }

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss)
    {
        var losses = Workspace.Tensor(logits.Device, [logits.Size(0)]);
        Launches++;
        Kernels.SoftmaxCrossEntropyForward(logits.View, labels.View, probabilities.View, losses.View, loss.View, logits.Size(0), logits.Size(1));
    }

    public override bool FusesCrossEntropyGradient => true;

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss, Tensor logitsGrad)
    {
        var losses = Workspace.Tensor(logits.Device, [logits.Size(0)]);
        Launches++;
        Kernels.SoftmaxCrossEntropyForward(logits.View, labels.View, probabilities.View, losses.View, loss.View, logits.Size(0), logits.Size(1),
            logitsGrad.View, 1f, accumulateGradient: false);
    }

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad, Tensor logitsGrad)
    {
        Launches++;
        Kernels.SoftmaxCrossEntropyBackward(probabilities.View, labels.View, lossGrad.View, logitsGrad.View, probabilities.Size(0), probabilities.Size(1),
            Accumulates(logitsGrad));
    }

    /// <summary>
    /// Whether the classifier head is fused with its loss: the kernels' <see cref="GpuOptions.FuseHead"/> at first.
    /// </summary>
    public bool FusesHead { get; set; } = kernels.Options.FuseHead;

    public override bool FusesHeadCrossEntropy(in HeadShape shape) => FusesHead && CudaKernels.HeadFits(shape);

    public override void HeadForwardBackward(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight, Tensor secondBias, Indices labels,
        Tensor lossGrad, Tensor hidden, Tensor loss, Tensor scratch, Tensor? inputGrad, bool writeLoss, bool overwriteInput, in HeadShape shape)
    {
        Launches++;
        Kernels.HeadForwardBackward(input.View, firstWeight.View, firstBias.View, secondWeight.View, secondBias.View, labels.View, lossGrad.View,
            hidden.View, loss.View, scratch.View, View(inputGrad), shape, Accumulates(inputGrad) && !overwriteInput, writeLoss);
    }

    public override void HeadWeightGradients(Tensor input, Tensor hidden, Tensor scratch, Tensor? firstWeightGrad, Tensor? firstBiasGrad,
        Tensor? secondWeightGrad, Tensor? secondBiasGrad, in HeadShape shape)
    {
        if (firstWeightGrad is null && firstBiasGrad is null && secondWeightGrad is null && secondBiasGrad is null) return;
        Cleared(firstWeightGrad, firstBiasGrad);
        Cleared(secondWeightGrad, secondBiasGrad);
        Launches++;
        Kernels.HeadWeightGradients(input.View, hidden.View, scratch.View, View(firstWeightGrad), View(firstBiasGrad), View(secondWeightGrad),
            View(secondBiasGrad), shape);
    }

    public override void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled)
    {
        Cleared(grad);
        Launches++;
        Kernels.AdamStep(parameter.View, grad.View, firstMoment.View, secondMoment.View, step, learningRate, beta1, beta2, eps, weightDecay, decoupled);
    }

    public override void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov)
    {
        Cleared(grad);
        Launches++;
        Kernels.SgdStep(parameter.View, grad.View, View(momentumBuffer), firstStep, learningRate, momentum, dampening, weightDecay, nesterov);
    }

    public override void Accumulate(Tensor source, Tensor target)
    {
        Launches++;
        Kernels.Add(source.View, target.View, Accumulates(target));
    }

    public override void AddScalar(Tensor target, float value)
    {
        Launches++;
        Kernels.AddScalar(target.View, value, Accumulates(target));
    }

    public override void Zero(Tensor target)
    {
        target.Uncleared = false;
        if (target.Length == 0) return;
        Launches++;
        Memsets++;
        Kernels.Clear(target.View);
    }

    public override void ClearForReuse(Tensor target) => target.Uncleared = true;

    /// <summary>
    /// Whether two gradients share device memory (F.Linear(h, h): h's gradient is both). One Linear backward launch
    /// writes its input and weight gradients from different groups at the same time, so such a pair takes two launches
    /// in turn: read-modify-writes of one element from two groups of one launch could lose one of the additions.
    /// </summary>
    private static bool Overlap(Tensor? a, Tensor? b) => a is not null && b is not null && a.Overlaps(b);

    /// <summary>False for an <see cref="Tensor.Uncleared"/> gradient, which the kernel about to run overwrites (so it is cleared from then on).</summary>
    private static bool Accumulates(Tensor? grad)
    {
        if (grad is not { Uncleared: true }) return true;
        grad.Uncleared = false;
        return false;
    }

    /// <summary>Clears any <see cref="Tensor.Uncleared"/> one of these before a kernel that only adds to it.</summary>
    private void Cleared(Tensor? a, Tensor? b = null, Tensor? c = null)
    {
        if (a is { Uncleared: true }) Zero(a);
        if (b is { Uncleared: true }) Zero(b);
        if (c is { Uncleared: true }) Zero(c);
    }

    /// <summary>batchImages[b] = images[order[b]], batchLabels[b] = labels[order[b]] (the batch gather of <see cref="DeviceDataset"/>).</summary>
    internal void Gather(Tensor images, Indices labels, ArrayView<int> order, Tensor batchImages, Indices batchLabels, int imageLength)
    {
        Launches++;
        Kernels.Gather(images.View, labels.View, order, batchImages.View, batchLabels.View, imageLength);
    }

    /// <summary>The batch gather at the schedule's cursor (<see cref="DeviceDataset.Batch(StepSchedule, int, int)"/>).</summary>
    internal void GatherAtCursor(Tensor images, Indices labels, Indices order, Indices cursor, int stride, Tensor batchImages, Indices batchLabels, int imageLength)
    {
        Launches++;
        Kernels.GatherAtCursor(images.View, labels.View, order.View, cursor.View, stride, batchImages.View, batchLabels.View, imageLength);
    }

    /// <summary>
    /// Adam with its bias corrections read from the schedule's table at its cursor (<see cref="Optim.Adam.Schedule"/>);
    /// given a loss and losses, the same launch ends the schedule's step (<see cref="StepSchedule.EndStep(Tensor, Tensor, Optim.Optimizer)"/>).
    /// </summary>
    internal void AdamScheduled(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, StepSchedule schedule,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled, bool clearGradient, Tensor? loss = null, Tensor? losses = null)
    {
        Cleared(grad);
        Launches++;
        Kernels.AdamScheduled(parameter.View, grad.View, firstMoment.View, secondMoment.View, schedule.AdamTable.View, schedule.Cursor.View,
            learningRate, beta1, beta2, eps, weightDecay, decoupled, clearGradient, View(loss), View(losses));
    }

    /// <summary>losses[cursor] = loss, cursor += 1 (<see cref="StepSchedule.EndStep"/>).</summary>
    internal void EndStep(Tensor loss, Tensor losses, Indices cursor)
    {
        Launches++;
        Kernels.EndStep(loss.View, losses.View, cursor.View);
    }

    private static ArrayView<float> View(Tensor? tensor) => tensor is null ? default : tensor.View;

    private static Tensor Scratch(Tensor like) => Workspace.Tensor(like.Device, like.Shape);
}
