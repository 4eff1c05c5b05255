using System.Numerics.Tensors;
using LeNet.Core.Autograd;
using LeNet.Kernels;
using static LeNet.Core.Backends.HostGradient;
using K = LeNet.Kernels.Cpu;

namespace LeNet.Core.Backends;

/// <summary>
/// The default CPU backend: the SIMD kernels of LeNet.Kernels.Cpu, which split their work over <see cref="K.Workers"/>
/// and reduce in a fixed order (the same results for any thread count). The convolution block runs the convolution,
/// then BatchNorm, ReLU and max-pooling as one fused pass each way in training; in evaluation BatchNorm is folded into
/// the convolution and each image's convolution, ReLU and pooling run together.
/// </summary>
public sealed class CpuBackend : Backend
{
    public static readonly CpuBackend Instance = new();

    private CpuBackend() { }

    /// <summary>Threads the kernels use (the caller's included), for this process.</summary>
    public static int ThreadCount => K.Workers.ThreadCount;
    public static void SetThreadCount(int threads) => K.Workers.SetThreadCount(threads);
    public static int MaxThreadCount => K.Workers.MaxThreadCount;
    /// <summary>
    /// Runs <paramref name="body"/> with its kernels on the calling thread alone (work too small to share).
    /// </summary>
    public static void OnThisThread(Action body) => K.Workers.OnThisThread(body);
    /// <summary>Why LENET_THREADS cannot be used, in one sentence; null when unset or valid.</summary>
    public static string? ThreadsVariableProblem => K.Workers.ThreadsVariableProblem;
    public static string ThreadCountProblem(string name, string value) => K.Workers.ThreadCountProblem(name, value);

    public override void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape) =>
        K.Conv2d.Forward(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);
    public override void Conv2dBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in ConvShape shape)
    {
        if (inputGrad is { } i) K.Conv2d.BackwardInput(outputGrad.AsSpan(), weight.AsSpan(), Accumulator(i), shape);
        if (weightGrad is { } w) K.Conv2d.BackwardWeight(input.AsSpan(), outputGrad.AsSpan(), Accumulator(w), shape);
        if (biasGrad is { } b) K.Conv2d.BackwardBias(outputGrad.AsSpan(), Accumulator(b), shape);
    }

    public override void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape) =>
        K.MaxPool2d.Forward(input.AsSpan(), output.AsSpan(), argmax.Host, shape);
    public override void MaxPool2dBackward(Tensor outputGrad, Indices argmax, GradientTarget inputGrad,
        in PoolShape shape) => K.MaxPool2d.Backward(outputGrad.AsSpan(), argmax.Host, Accumulator(inputGrad), shape);

    public override void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape) =>
        K.AvgPool2d.Forward(input.AsSpan(), output.AsSpan(), shape);
    public override void AvgPool2dBackward(Tensor outputGrad, GradientTarget inputGrad, in PoolShape shape) =>
        K.AvgPool2d.Backward(outputGrad.AsSpan(), Accumulator(inputGrad), shape);

    public override void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean,
        Tensor invStd, Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardTraining(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), output.AsSpan(), mean.AsSpan(),
            invStd.AsSpan(), runningMean.AsSpan(), runningVar.AsSpan(), momentum, eps, shape);
    public override void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, float eps, Tensor output, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardInference(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), runningMean.AsSpan(),
            runningVar.AsSpan(), eps, output.AsSpan(), shape);
    public override void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        GradientTarget? inputGrad, GradientTarget? gammaGrad, GradientTarget? betaGrad, in BatchNormShape shape) =>
        K.BatchNorm2d.Backward(outputGrad.AsSpan(), input.AsSpan(), gamma.AsSpan(), mean.AsSpan(), invStd.AsSpan(),
            AccumulatorOrScratch(inputGrad, shape.Length), AccumulatorOrScratch(gammaGrad, shape.Channels),
            AccumulatorOrScratch(betaGrad, shape.Channels), shape);

    public override void ConvBlockForward(Tensor input, Tensor weight, Tensor? bias, Tensor gamma, Tensor beta,
        Tensor runningMean, Tensor runningVar, Tensor pooled, ConvBlockSaved? saved, float momentum, float eps,
        in ConvBlockShape shape)
    {
        if (saved is null)
        {
            // Evaluation: BatchNorm folded into the convolution (from the current tensors, every call), conv + ReLU +
            // pool per image, no convolution output tensor.
            K.Conv2d.ForwardBatchNormReLUMaxPool(input.AsSpan(), weight.AsSpan(), Span(bias), gamma.AsSpan(),
                beta.AsSpan(), runningMean.AsSpan(), runningVar.AsSpan(), eps, pooled.AsSpan(), shape.Conv, shape.Pool);
            return;
        }
        var convOutput = saved.ConvOutput;
        Conv2dForward(input, weight, bias, convOutput, shape.Conv);
        K.BatchNorm2d.ForwardTrainingReLUMaxPool(convOutput.AsSpan(), gamma.AsSpan(), beta.AsSpan(),
            pooled.AsSpan(), saved.Argmax.Host, saved.Mean.AsSpan(), saved.InvStd.AsSpan(), runningMean.AsSpan(),
            runningVar.AsSpan(), momentum, eps, shape.Pooling);
    }

    public override void ConvBlockBackward(Tensor pooledGrad, Tensor input, Tensor weight, Tensor gamma, Tensor beta,
        ConvBlockSaved saved, GradientTarget? inputGrad, GradientTarget? weightGrad, GradientTarget? biasGrad,
        GradientTarget? gammaGrad, GradientTarget? betaGrad, in ConvBlockShape shape)
    {
        var convGrad = shape.ConvOutput(input.Device); // scratch: the kernel writes every element
        K.BatchNorm2d.BackwardReLUMaxPool(pooledGrad.AsSpan(), saved.Argmax.Host, saved.Pooled.AsSpan(),
            saved.ConvOutput.AsSpan(), gamma.AsSpan(), saved.Mean.AsSpan(), saved.InvStd.AsSpan(), convGrad.AsSpan(),
            AccumulatorOrScratch(gammaGrad, shape.Conv.OutChannels),
            AccumulatorOrScratch(betaGrad, shape.Conv.OutChannels), shape.Pooling, accumulateInputGrad: false);
        Conv2dBackward(input, weight, convGrad, inputGrad, weightGrad, biasGrad, shape.Conv);
    }

    public override void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output,
        in LinearShape shape) => K.Linear.Forward(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);
    public override void LinearBackward(Tensor input, Tensor weight, Tensor outputGrad, GradientTarget? inputGrad,
        GradientTarget? weightGrad, GradientTarget? biasGrad, in LinearShape shape)
    {
        if (inputGrad is { } i) K.Linear.BackwardInput(outputGrad.AsSpan(), weight.AsSpan(), Accumulator(i), shape);
        if (weightGrad is { } w) K.Linear.BackwardWeight(input.AsSpan(), outputGrad.AsSpan(), Accumulator(w), shape);
        if (biasGrad is { } b) K.Linear.BackwardBias(outputGrad.AsSpan(), Accumulator(b), shape);
    }

    public override void ReLUForward(Tensor input, Tensor output) => K.ReLU.Forward(input.AsSpan(), output.AsSpan());
    public override void ReLUBackward(Tensor input, Tensor outputGrad, GradientTarget inputGrad) =>
        K.ReLU.Backward(input.AsSpan(), outputGrad.AsSpan(), Accumulator(inputGrad));

    public override void TanhForward(Tensor input, Tensor output) => K.Tanh.Forward(input.AsSpan(), output.AsSpan());
    public override void TanhBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad) =>
        K.Tanh.Backward(output.AsSpan(), outputGrad.AsSpan(), Accumulator(inputGrad));

    public override void SigmoidForward(Tensor input, Tensor output) =>
        K.Sigmoid.Forward(input.AsSpan(), output.AsSpan());
    public override void SigmoidBackward(Tensor output, Tensor outputGrad, GradientTarget inputGrad) =>
        K.Sigmoid.Backward(output.AsSpan(), outputGrad.AsSpan(), Accumulator(inputGrad));

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss,
        Tensor? unitLogitsGrad)
    {
        var (batch, classes) = (logits.Size(0), logits.Size(1));
        loss.AsSpan()[0] = K.SoftmaxCrossEntropy.Forward(logits.AsSpan(), labels.Host, probabilities.AsSpan(), batch,
            classes);
        if (unitLogitsGrad is null) return;
        unitLogitsGrad.AsSpan().Clear(); // the kernel adds
        K.SoftmaxCrossEntropy.Backward(probabilities.AsSpan(), labels.Host, 1f, unitLogitsGrad.AsSpan(), batch,
            classes);
    }

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad,
        GradientTarget logitsGrad) =>
        K.SoftmaxCrossEntropy.Backward(probabilities.AsSpan(), labels.Host, lossGrad.AsSpan()[0],
            Accumulator(logitsGrad), probabilities.Size(0), probabilities.Size(1));

    public override void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay,
            bool decoupled, bool clearGradient) =>
        K.Adam.Step(parameter.AsSpan(), grad.AsSpan(), firstMoment.AsSpan(), secondMoment.AsSpan(), step,
            learningRate, beta1, beta2, eps, weightDecay, decoupled, clearGradient);

    public override void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov, bool clearGradient)
    {
        K.Sgd.Step(parameter.AsSpan(), grad.AsSpan(), Span(momentumBuffer), firstStep, learningRate, momentum,
            dampening, weightDecay, nesterov);
        if (clearGradient) grad.AsSpan().Clear();
    }

    public override void Accumulate(Tensor source, GradientTarget target)
    {
        if (target.Overwrite) source.AsSpan().CopyTo(target.Tensor.AsSpan());
        else TensorPrimitives.Add(target.Tensor.AsSpan(), source.AsSpan(), target.Tensor.AsSpan());
    }

    public override void AddScalar(GradientTarget target, float value)
    {
        foreach (ref var x in Accumulator(target)) x += value;
    }

    public override void Zero(Tensor target) => target.AsSpan().Clear();
}
