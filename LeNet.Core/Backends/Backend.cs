using LeNet.Kernels;

namespace LeNet.Core.Backends;

/// <summary>
/// Maps each tensor operation to the kernels of one device. Forward methods overwrite their outputs; backward methods
/// accumulate (+=) into their gradient arguments, as the kernels do. Saved state (argmax, batch statistics) is explicit.
/// </summary>
public abstract class Backend
{
    public abstract void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape);
    public abstract void Conv2dBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in ConvShape shape);
    public abstract void Conv2dBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in ConvShape shape);
    public abstract void Conv2dBackwardBias(Tensor outputGrad, Tensor biasGrad, in ConvShape shape);

    /// <summary>All wanted gradients of a convolution (null: not wanted); a GPU backend runs them as one launch.</summary>
    public virtual void Conv2dBackward(Tensor input, Tensor weight, Tensor outputGrad, Tensor? inputGrad, Tensor? weightGrad, Tensor? biasGrad, in ConvShape shape)
    {
        if (inputGrad is not null) Conv2dBackwardInput(outputGrad, weight, inputGrad, shape);
        if (weightGrad is not null) Conv2dBackwardWeight(input, outputGrad, weightGrad, shape);
        if (biasGrad is not null) Conv2dBackwardBias(outputGrad, biasGrad, shape);
    }

    public abstract void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape);
    public abstract void MaxPool2dBackward(Tensor outputGrad, Indices argmax, Tensor inputGrad, in PoolShape shape);
    public abstract void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape);
    public abstract void AvgPool2dBackward(Tensor outputGrad, Tensor inputGrad, in PoolShape shape);

    public abstract void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean, Tensor invStd,
        Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape);
    public abstract void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float eps, Tensor output, in BatchNormShape shape);
    public abstract void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        Tensor? inputGrad, Tensor? gammaGrad, Tensor? betaGrad, in BatchNormShape shape);

    /// <summary>True when this backend runs BatchNorm2d → ReLU → MaxPool2d (window = stride) as one fused operation.</summary>
    public virtual bool FusesBatchNormReLUMaxPool => false;

    /// <summary>maxpool(relu(batchnorm(input))) with batch statistics; writes only the pooled output and its argmax (flat indices into input).</summary>
    public virtual void BatchNorm2dReLUMaxPoolForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor pooledOutput, Indices argmax,
        Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in PoolShape shape) =>
        throw FusionNotSupported();

    /// <summary>maxpool(relu(batchnorm(input))) with the running statistics.</summary>
    public virtual void BatchNorm2dReLUMaxPoolForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor pooledOutput, Indices argmax, in PoolShape shape) =>
        throw FusionNotSupported();

    /// <summary>Accumulates the gradients of the BatchNorm input, γ and β from the pooled output's gradient.</summary>
    public virtual void BatchNorm2dReLUMaxPoolBackward(Tensor pooledGrad, Indices argmax, Tensor pooledOutput, Tensor input, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Tensor inputGrad, Tensor gammaGrad, Tensor betaGrad, in PoolShape shape) =>
        throw FusionNotSupported();

    /// <summary>
    /// True when this backend can run a convolution of <paramref name="shape"/> and the fused BatchNorm2d → ReLU →
    /// MaxPool2d after it (training) as <see cref="Conv2dBatchNorm2dReLUMaxPoolForwardTraining"/>, the convolution
    /// computing BatchNorm's statistics as it writes its output.
    /// </summary>
    public virtual bool FusesConvBatchNormReLUMaxPool(in ConvShape shape) => false;

    /// <summary>
    /// convOutput = conv(input) + bias, then maxpool(relu(batchnorm(convOutput))) with batch statistics: the values
    /// <see cref="Conv2dForward"/> and <see cref="BatchNorm2dReLUMaxPoolForwardTraining"/> give in turn.
    /// </summary>
    public virtual void Conv2dBatchNorm2dReLUMaxPoolForwardTraining(Tensor input, Tensor weight, Tensor? bias, Tensor convOutput, Tensor gamma, Tensor beta,
        Tensor pooledOutput, Indices argmax, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps,
        in ConvShape shape, int poolKernel) =>
        throw new NotSupportedException($"{GetType().Name} has no fused Conv2d-BatchNorm2d-ReLU-MaxPool2d; check FusesConvBatchNormReLUMaxPool first.");

    /// <summary>
    /// The backward of <see cref="Conv2dBatchNorm2dReLUMaxPoolForwardTraining"/>: accumulates the gradients of the
    /// convolution's input, weight and bias and of γ and β (each null when not wanted) from the pooled output's gradient.
    /// By default <see cref="BatchNorm2dReLUMaxPoolBackward"/> into the convolution's output gradient, then
    /// <see cref="Conv2dBackward"/>; a backend may do both at once.
    /// </summary>
    public virtual void Conv2dBatchNorm2dReLUMaxPoolBackward(Tensor input, Tensor weight, Tensor convOutput, Tensor pooledGrad, Indices argmax,
        Tensor pooledOutput, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor? inputGrad, Tensor? weightGrad, Tensor? biasGrad,
        Tensor? gammaGrad, Tensor? betaGrad, in ConvShape conv, in PoolShape pool)
    {
        var convGrad = convOutput.GradOrZeros();
        BatchNorm2dReLUMaxPoolBackward(pooledGrad, argmax, pooledOutput, convOutput, gamma, beta, mean, invStd, convGrad,
            gammaGrad ?? Tensor.ZerosLike(gamma), betaGrad ?? Tensor.ZerosLike(beta), pool);
        Conv2dBackward(input, weight, convGrad, inputGrad, weightGrad, biasGrad, conv);
        convOutput.ReleaseGrad();
    }

    private NotSupportedException FusionNotSupported() =>
        new($"{GetType().Name} has no fused BatchNorm2d-ReLU-MaxPool2d; check FusesBatchNormReLUMaxPool first.");

    public abstract void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape);
    public abstract void LinearBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in LinearShape shape);
    public abstract void LinearBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in LinearShape shape);
    public abstract void LinearBackwardBias(Tensor outputGrad, Tensor biasGrad, in LinearShape shape);

    /// <summary>All wanted gradients of a linear layer (null: not wanted); a GPU backend runs them as one launch.</summary>
    public virtual void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad, Tensor? inputGrad, Tensor? weightGrad, Tensor? biasGrad, in LinearShape shape)
    {
        if (inputGrad is not null) LinearBackwardInput(outputGrad, weight, inputGrad, shape);
        if (weightGrad is not null) LinearBackwardWeight(input, outputGrad, weightGrad, shape);
        if (biasGrad is not null) LinearBackwardBias(outputGrad, biasGrad, shape);
    }

    /// <summary>True when <see cref="LinearReLUForward"/> and <see cref="LinearReLUBackward"/> each run as one fused operation.</summary>
    public virtual bool FusesLinearReLU => false;

    /// <summary>output = max(input · weightᵀ + bias, 0): a linear layer and the ReLU after it.</summary>
    public virtual void LinearReLUForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape)
    {
        LinearForward(input, weight, bias, output, shape);
        ReLUForward(output, output);
    }

    /// <summary>
    /// The gradients of <see cref="LinearReLUForward"/> from its saved <paramref name="output"/> and outputGrad
    /// (∂L/∂output, after the ReLU): the ReLU's backward, then the linear layer's.
    /// </summary>
    public virtual void LinearReLUBackward(Tensor input, Tensor weight, Tensor output, Tensor outputGrad, Tensor? inputGrad, Tensor? weightGrad,
        Tensor? biasGrad, in LinearShape shape)
    {
        var preActivationGrad = Workspace.Tensor(output.Device, output.Shape);
        Zero(preActivationGrad);
        ReLUBackward(output, outputGrad, preActivationGrad);
        LinearBackward(input, weight, preActivationGrad, inputGrad, weightGrad, biasGrad, shape);
    }

    public abstract void ReLUForward(Tensor input, Tensor output);
    public abstract void ReLUBackward(Tensor input, Tensor outputGrad, Tensor inputGrad);
    public abstract void TanhForward(Tensor input, Tensor output);
    public abstract void TanhBackward(Tensor output, Tensor outputGrad, Tensor inputGrad);
    public abstract void SigmoidForward(Tensor input, Tensor output);
    public abstract void SigmoidBackward(Tensor output, Tensor outputGrad, Tensor inputGrad);

    /// <summary>Writes the mean loss into <paramref name="loss"/> (one element) and the softmax into probabilities.</summary>
    public abstract void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss);
    public abstract void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad, Tensor logitsGrad);

    /// <summary>True when this backend's softmax-cross-entropy forward can also write the logits' gradient for a loss gradient of 1.</summary>
    public virtual bool FusesCrossEntropyGradient => false;

    /// <summary>
    /// <see cref="SoftmaxCrossEntropyForward(Tensor, Indices, Tensor, Tensor)"/>, and logitsGrad overwritten with
    /// ∂loss/∂logits = (probabilities − onehot)/N: the backward for a loss gradient of 1, in the same launch.
    /// </summary>
    public virtual void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss, Tensor logitsGrad) =>
        throw new NotSupportedException($"{GetType().Name} does not write the logits' gradient in the forward; check FusesCrossEntropyGradient first.");

    /// <summary>
    /// True when this backend runs a classifier head and its loss — Linear, ReLU, Linear, softmax cross-entropy — as one
    /// operation of <paramref name="shape"/> (<see cref="Functional.F.LinearReLULinearCrossEntropy"/>).
    /// </summary>
    public virtual bool FusesHeadCrossEntropy(in HeadShape shape) => false;

    /// <summary>
    /// The fused head's forward and its backward down to the input: hidden (after the ReLU) and loss (the mean, when
    /// <paramref name="writeLoss"/>) written, and for the loss gradient lossGrad (one element, read on the device) the
    /// logits' and hidden layer's gradients into scratch (<see cref="HeadShape.ScratchLength"/>), the input's added to
    /// inputGrad when it is given (written over it with <paramref name="overwriteInput"/>).
    /// </summary>
    public virtual void HeadForwardBackward(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight, Tensor secondBias, Indices labels,
        Tensor lossGrad, Tensor hidden, Tensor loss, Tensor scratch, Tensor? inputGrad, bool writeLoss, bool overwriteInput, in HeadShape shape) =>
        throw new NotSupportedException($"{GetType().Name} has no fused classifier head; check FusesHeadCrossEntropy first.");

    /// <summary>The fused head's weight and bias gradients, added to each one given, from what <see cref="HeadForwardBackward"/> left.</summary>
    public virtual void HeadWeightGradients(Tensor input, Tensor hidden, Tensor scratch, Tensor? firstWeightGrad, Tensor? firstBiasGrad,
        Tensor? secondWeightGrad, Tensor? secondBiasGrad, in HeadShape shape) =>
        throw new NotSupportedException($"{GetType().Name} has no fused classifier head; check FusesHeadCrossEntropy first.");

    public abstract void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled);
    public abstract void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov);

    /// <summary>target += source, elementwise.</summary>
    public abstract void Accumulate(Tensor source, Tensor target);

    /// <summary>target += value, elementwise (the seed of a backward pass is a loss gradient of one).</summary>
    public virtual void AddScalar(Tensor target, float value)
    {
        foreach (ref var x in target.AsSpan()) x += value;
    }

    /// <summary>Sets every element of <paramref name="target"/> to zero.</summary>
    public virtual void Zero(Tensor target) => target.AsSpan().Clear();

    /// <summary>
    /// Makes a gradient buffer handed out again read as zero. Here: cleared at once. A backend whose kernels can
    /// overwrite instead of adding marks it <see cref="Tensor.Uncleared"/> instead and clears nothing.
    /// </summary>
    public virtual void ClearForReuse(Tensor target) => Zero(target);
}
