using LeNet.Core.Autograd;
using LeNet.Kernels;
using static LeNet.Core.Backends.HostGradient;
using K = LeNet.Kernels.Reference;

namespace LeNet.Core.Backends;

/// <summary>
/// Every operation with the scalar Reference kernels on the tensors' managed arrays, in float32, on one thread: the
/// oracle the fast kernels are checked against (<c>--kernels reference</c>). The blocks are the parts in turn.
/// </summary>
public sealed class ReferenceBackend : Backend
{
    public static readonly ReferenceBackend Instance = new();

    private ReferenceBackend() { }

    public override void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape) =>
        K.Conv2d.Forward<float>(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);
    public override void Conv2dBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in ConvShape shape)
    {
        if (inputGrad is { } i)
            K.Conv2d.BackwardInput<float>(outputGrad.AsSpan(), weight.AsSpan(), Accumulator(i), shape);
        if (weightGrad is { } w)
            K.Conv2d.BackwardWeight<float>(input.AsSpan(), outputGrad.AsSpan(), Accumulator(w), shape);
        if (biasGrad is { } b) K.Conv2d.BackwardBias<float>(outputGrad.AsSpan(), Accumulator(b), shape);
    }

    public override void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape) =>
        K.MaxPool2d.Forward<float>(input.AsSpan(), output.AsSpan(), argmax.Host, shape);
    public override void MaxPool2dBackward(Tensor outputGrad, Indices argmax, GradientTarget inputGrad,
        in PoolShape shape) =>
        K.MaxPool2d.Backward<float>(outputGrad.AsSpan(), argmax.Host, Accumulator(inputGrad), shape);

    public override void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape) =>
        K.AvgPool2d.Forward<float>(input.AsSpan(), output.AsSpan(), shape);
    public override void AvgPool2dBackward(Tensor outputGrad, GradientTarget inputGrad, in PoolShape shape) =>
        K.AvgPool2d.Backward<float>(outputGrad.AsSpan(), Accumulator(inputGrad), shape);

    public override void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean,
        Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardTraining<float>(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), output.AsSpan(),
            mean.AsSpan(), invStd.AsSpan(), runningMean.AsSpan(), runningVar.AsSpan(), momentum, eps, shape);
    public override void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor output, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardInference<float>(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), runningMean.AsSpan(),
            runningVar.AsSpan(), eps, output.AsSpan(), shape);

    // The kernel computes all three gradients; one nobody asked for goes to scratch.
    public override void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        GradientTarget? inputGrad, GradientTarget? gammaGrad, GradientTarget? betaGrad, in BatchNormShape shape) =>
        K.BatchNorm2d.Backward<float>(outputGrad.AsSpan(), input.AsSpan(), gamma.AsSpan(), mean.AsSpan(),
            invStd.AsSpan(), AccumulatorOrScratch(inputGrad, shape.Length),
            AccumulatorOrScratch(gammaGrad, shape.Channels), AccumulatorOrScratch(betaGrad, shape.Channels), shape);

    public override void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output,
        in LinearShape shape) =>
        K.Linear.Forward<float>(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);
    public override void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape)
    {
        if (inputGrad is { } i)
            K.Linear.BackwardInput<float>(outputGrad.AsSpan(), weight.AsSpan(), Accumulator(i), shape);
        if (weightGrad is { } w)
            K.Linear.BackwardWeight<float>(input.AsSpan(), outputGrad.AsSpan(), Accumulator(w), shape);
        if (biasGrad is { } b) K.Linear.BackwardBias<float>(outputGrad.AsSpan(), Accumulator(b), shape);
    }

    public override void ReLUForward(Tensor input, Tensor output) =>
        K.ReLU.Forward<float>(input.AsSpan(), output.AsSpan());
    public override void ReLUBackward(Tensor input, Tensor outputGrad, GradientTarget inputGrad) =>
        K.ReLU.Backward<float>(input.AsSpan(), outputGrad.AsSpan(), Accumulator(inputGrad));

    public override void TanhForward(Tensor input, Tensor output) =>
        K.Tanh.Forward<float>(input.AsSpan(), output.AsSpan());
    public override void TanhBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad) =>
        K.Tanh.Backward<float>(output.AsSpan(), outputGrad.AsSpan(), Accumulator(inputGrad));

    public override void SigmoidForward(Tensor input, Tensor output) =>
        K.Sigmoid.Forward<float>(input.AsSpan(), output.AsSpan());
    public override void SigmoidBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad) =>
        K.Sigmoid.Backward<float>(output.AsSpan(), outputGrad.AsSpan(), Accumulator(inputGrad));

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss,
        Tensor? unitLogitsGrad)
    {
        var (batch, classes) = (logits.Size(0), logits.Size(1));
        loss.AsSpan()[0] = K.SoftmaxCrossEntropy.Forward<float>(logits.AsSpan(), labels.Host, probabilities.AsSpan(),
            batch, classes);
        if (unitLogitsGrad is not null)
            SoftmaxCrossEntropyBackward(probabilities, labels, 1f, new GradientTarget(unitLogitsGrad, Overwrite: true));
    }

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad,
        GradientTarget logitsGrad) =>
        SoftmaxCrossEntropyBackward(probabilities, labels, lossGrad.AsSpan()[0], logitsGrad);

    private static void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, float lossGrad,
        GradientTarget logitsGrad) =>
        K.SoftmaxCrossEntropy.Backward<float>(probabilities.AsSpan(), labels.Host, lossGrad, Accumulator(logitsGrad),
            probabilities.Size(0), probabilities.Size(1));

    public override void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled, bool clearGradient)
    {
        K.Adam.Step<float>(parameter.AsSpan(), grad.AsSpan(), firstMoment.AsSpan(), secondMoment.AsSpan(), step,
            learningRate, beta1, beta2, eps, weightDecay, decoupled);
        if (clearGradient) grad.AsSpan().Clear();
    }

    public override void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov, bool clearGradient)
    {
        K.Sgd.Step<float>(parameter.AsSpan(), grad.AsSpan(), Span(momentumBuffer), firstStep, learningRate, momentum,
            dampening, weightDecay, nesterov);
        if (clearGradient) grad.AsSpan().Clear();
    }

    public override void Accumulate(Tensor source, GradientTarget target)
    {
        var s = source.AsSpan();
        var t = Accumulator(target);
        for (var i = 0; i < t.Length; i++) t[i] += s[i];
    }

    public override void AddScalar(GradientTarget target, float value)
    {
        foreach (ref var x in Accumulator(target)) x += value;
    }

    public override void Zero(Tensor target) => target.AsSpan().Clear();
}
