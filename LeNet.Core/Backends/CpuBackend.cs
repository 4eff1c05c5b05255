using LeNet.Kernels;
using K = LeNet.Kernels.Cpu;

namespace LeNet.Core.Backends;

/// <summary>
/// The default CPU backend: the hand-written SIMD kernels of LeNet.Kernels.Cpu, which split their work over
/// <see cref="K.Workers"/> and reduce in a fixed order (the same results for any thread count).
/// </summary>
public sealed class CpuBackend : ReferenceBackend
{
    public static new readonly CpuBackend Instance = new();

    private CpuBackend() { }

    public override void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape) =>
        K.Conv2d.Forward(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);

    public override void Conv2dBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in ConvShape shape) =>
        K.Conv2d.BackwardInput(outputGrad.AsSpan(), weight.AsSpan(), inputGrad.AsSpan(), shape);

    public override void Conv2dBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in ConvShape shape) =>
        K.Conv2d.BackwardWeight(input.AsSpan(), outputGrad.AsSpan(), weightGrad.AsSpan(), shape);

    public override void Conv2dBackwardBias(Tensor outputGrad, Tensor biasGrad, in ConvShape shape) =>
        K.Conv2d.BackwardBias(outputGrad.AsSpan(), biasGrad.AsSpan(), shape);

    public override void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape) =>
        K.MaxPool2d.Forward(input.AsSpan(), output.AsSpan(), argmax.Host, shape);

    public override void MaxPool2dBackward(Tensor outputGrad, Indices argmax, Tensor inputGrad, in PoolShape shape) =>
        K.MaxPool2d.Backward(outputGrad.AsSpan(), argmax.Host, inputGrad.AsSpan(), shape);

    public override void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape) =>
        K.AvgPool2d.Forward(input.AsSpan(), output.AsSpan(), shape);

    public override void AvgPool2dBackward(Tensor outputGrad, Tensor inputGrad, in PoolShape shape) =>
        K.AvgPool2d.Backward(outputGrad.AsSpan(), inputGrad.AsSpan(), shape);

    public override void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean, Tensor invStd,
        Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardTraining(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), output.AsSpan(), mean.AsSpan(),
            invStd.AsSpan(), runningMean.AsSpan(), runningVar.AsSpan(), momentum, eps, shape);

    public override void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float eps, Tensor output, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardInference(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), runningMean.AsSpan(),
            runningVar.AsSpan(), eps, output.AsSpan(), shape);

    public override void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        Tensor? inputGrad, Tensor? gammaGrad, Tensor? betaGrad, in BatchNormShape shape) =>
        K.BatchNorm2d.Backward(outputGrad.AsSpan(), input.AsSpan(), gamma.AsSpan(), mean.AsSpan(), invStd.AsSpan(),
            inputGrad is null ? new float[shape.Length] : inputGrad.AsSpan(), gammaGrad is null ? new float[shape.Channels] : gammaGrad.AsSpan(),
            betaGrad is null ? new float[shape.Channels] : betaGrad.AsSpan(), shape);

    public override bool FusesBatchNormReLUMaxPool => true;

    public override void BatchNorm2dReLUMaxPoolForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor pooledOutput, Indices argmax,
        Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in PoolShape shape) =>
        K.BatchNorm2d.ForwardTrainingReLUMaxPool(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), pooledOutput.AsSpan(), argmax.Host,
            mean.AsSpan(), invStd.AsSpan(), runningMean.AsSpan(), runningVar.AsSpan(), momentum, eps, shape);

    public override void BatchNorm2dReLUMaxPoolForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor pooledOutput, Indices argmax, in PoolShape shape) =>
        K.BatchNorm2d.ForwardInferenceReLUMaxPool(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), runningMean.AsSpan(),
            runningVar.AsSpan(), eps, pooledOutput.AsSpan(), argmax.Host, shape);

    public override void BatchNorm2dReLUMaxPoolBackward(Tensor pooledGrad, Indices argmax, Tensor pooledOutput, Tensor input, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Tensor inputGrad, Tensor gammaGrad, Tensor betaGrad, in PoolShape shape) =>
        K.BatchNorm2d.BackwardReLUMaxPool(pooledGrad.AsSpan(), argmax.Host, pooledOutput.AsSpan(), input.AsSpan(), gamma.AsSpan(),
            mean.AsSpan(), invStd.AsSpan(), inputGrad.AsSpan(), gammaGrad.AsSpan(), betaGrad.AsSpan(), shape);

    public override void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape) =>
        K.Linear.Forward(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);

    public override void LinearBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in LinearShape shape) =>
        K.Linear.BackwardInput(outputGrad.AsSpan(), weight.AsSpan(), inputGrad.AsSpan(), shape);

    public override void LinearBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in LinearShape shape) =>
        K.Linear.BackwardWeight(input.AsSpan(), outputGrad.AsSpan(), weightGrad.AsSpan(), shape);

    public override void LinearBackwardBias(Tensor outputGrad, Tensor biasGrad, in LinearShape shape) =>
        K.Linear.BackwardBias(outputGrad.AsSpan(), biasGrad.AsSpan(), shape);

    public override void ReLUForward(Tensor input, Tensor output) => K.ReLU.Forward(input.AsSpan(), output.AsSpan());
    public override void ReLUBackward(Tensor input, Tensor outputGrad, Tensor inputGrad) =>
        K.ReLU.Backward(input.AsSpan(), outputGrad.AsSpan(), inputGrad.AsSpan());

    public override void TanhForward(Tensor input, Tensor output) => K.Tanh.Forward(input.AsSpan(), output.AsSpan());
    public override void TanhBackward(Tensor output, Tensor outputGrad, Tensor inputGrad) =>
        K.Tanh.Backward(output.AsSpan(), outputGrad.AsSpan(), inputGrad.AsSpan());

    public override void SigmoidForward(Tensor input, Tensor output) => K.Sigmoid.Forward(input.AsSpan(), output.AsSpan());
    public override void SigmoidBackward(Tensor output, Tensor outputGrad, Tensor inputGrad) =>
        K.Sigmoid.Backward(output.AsSpan(), outputGrad.AsSpan(), inputGrad.AsSpan());

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss) =>
        loss.AsSpan()[0] = K.SoftmaxCrossEntropy.Forward(logits.AsSpan(), labels.Host, probabilities.AsSpan(), logits.Size(0), logits.Size(1));

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad, Tensor logitsGrad) =>
        K.SoftmaxCrossEntropy.Backward(probabilities.AsSpan(), labels.Host, lossGrad.AsSpan()[0], logitsGrad.AsSpan(),
            probabilities.Size(0), probabilities.Size(1));

    public override void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled) =>
        K.Adam.Step(parameter.AsSpan(), grad.AsSpan(), firstMoment.AsSpan(), secondMoment.AsSpan(), step,
            learningRate, beta1, beta2, eps, weightDecay, decoupled);

    public override void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov) =>
        K.Sgd.Step(parameter.AsSpan(), grad.AsSpan(), Span(momentumBuffer), firstStep, learningRate, momentum,
            dampening, weightDecay, nesterov);

    public override void Accumulate(Tensor source, Tensor target) =>
        System.Numerics.Tensors.TensorPrimitives.Add(target.AsSpan(), source.AsSpan(), target.AsSpan());

    private static Span<float> Span(Tensor? tensor) => tensor is null ? default : tensor.AsSpan();
}
