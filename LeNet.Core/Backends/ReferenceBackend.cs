using LeNet.Kernels;
using K = LeNet.Kernels.Reference;

namespace LeNet.Core.Backends;

/// <summary>
/// Runs every operation with the scalar Reference kernels on the tensors' managed arrays, in float32: the oracle the
/// fast kernels are checked against (<c>--kernels reference</c>). <see cref="CpuBackend"/> overrides it op by op.
/// </summary>
public class ReferenceBackend : Backend
{
    public static readonly ReferenceBackend Instance = new();

    private protected ReferenceBackend() { }

    // Convolutions dominate a LeNet step; each runs the Reference kernel on slices of the batch, one per core.
    public override void Conv2dForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in ConvShape shape)
    {
        var s = shape;
        ForEachBatchSlice(s.Batch, (start, count) => K.Conv2d.Forward<float>(
            Images(input, s.InChannels * s.Height * s.Width, start, count), weight.AsSpan(), Span(bias),
            Images(output, s.OutChannels * s.OutHeight * s.OutWidth, start, count), s with { Batch = count }));
    }

    public override void Conv2dBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in ConvShape shape)
    {
        var s = shape;
        ForEachBatchSlice(s.Batch, (start, count) => K.Conv2d.BackwardInput<float>(
            Images(outputGrad, s.OutChannels * s.OutHeight * s.OutWidth, start, count), weight.AsSpan(),
            Images(inputGrad, s.InChannels * s.Height * s.Width, start, count), s with { Batch = count }));
    }

    public override void Conv2dBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in ConvShape shape)
    {
        var s = shape;
        var slices = SliceCount(s.Batch);
        if (slices == 1)
        {
            K.Conv2d.BackwardWeight<float>(input.AsSpan(), outputGrad.AsSpan(), weightGrad.AsSpan(), s);
            return;
        }
        // Each slice sums into its own buffer; the buffers are then added in slice order, so the result does not
        // depend on thread timing (only on the number of slices).
        var partial = new float[slices][];
        Parallel.For(0, slices, i =>
        {
            var (start, count) = Slice(s.Batch, slices, i);
            partial[i] = new float[s.WeightLength];
            K.Conv2d.BackwardWeight<float>(
                Images(input, s.InChannels * s.Height * s.Width, start, count),
                Images(outputGrad, s.OutChannels * s.OutHeight * s.OutWidth, start, count), partial[i], s with { Batch = count });
        });
        var target = weightGrad.AsSpan();
        foreach (var sum in partial)
            for (var j = 0; j < target.Length; j++) target[j] += sum[j];
    }

    public override void Conv2dBackwardBias(Tensor outputGrad, Tensor biasGrad, in ConvShape shape) =>
        K.Conv2d.BackwardBias<float>(outputGrad.AsSpan(), biasGrad.AsSpan(), shape);

    public override void MaxPool2dForward(Tensor input, Tensor output, Indices argmax, in PoolShape shape) =>
        K.MaxPool2d.Forward<float>(input.AsSpan(), output.AsSpan(), argmax.Host, shape);

    public override void MaxPool2dBackward(Tensor outputGrad, Indices argmax, Tensor inputGrad, in PoolShape shape) =>
        K.MaxPool2d.Backward<float>(outputGrad.AsSpan(), argmax.Host, inputGrad.AsSpan(), shape);

    public override void AvgPool2dForward(Tensor input, Tensor output, in PoolShape shape) =>
        K.AvgPool2d.Forward<float>(input.AsSpan(), output.AsSpan(), shape);

    public override void AvgPool2dBackward(Tensor outputGrad, Tensor inputGrad, in PoolShape shape) =>
        K.AvgPool2d.Backward<float>(outputGrad.AsSpan(), inputGrad.AsSpan(), shape);

    public override void BatchNorm2dForwardTraining(Tensor input, Tensor gamma, Tensor beta, Tensor output, Tensor mean, Tensor invStd,
        Tensor runningMean, Tensor runningVar, float momentum, float eps, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardTraining<float>(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), output.AsSpan(), mean.AsSpan(),
            invStd.AsSpan(), runningMean.AsSpan(), runningVar.AsSpan(), momentum, eps, shape);

    public override void BatchNorm2dForwardInference(Tensor input, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float eps, Tensor output, in BatchNormShape shape) =>
        K.BatchNorm2d.ForwardInference<float>(input.AsSpan(), gamma.AsSpan(), beta.AsSpan(), runningMean.AsSpan(),
            runningVar.AsSpan(), eps, output.AsSpan(), shape);

    public override void BatchNorm2dBackward(Tensor outputGrad, Tensor input, Tensor gamma, Tensor mean, Tensor invStd,
        Tensor? inputGrad, Tensor? gammaGrad, Tensor? betaGrad, in BatchNormShape shape) =>
        // The kernel computes all three gradients; one nobody asked for goes to scratch.
        K.BatchNorm2d.Backward<float>(outputGrad.AsSpan(), input.AsSpan(), gamma.AsSpan(), mean.AsSpan(), invStd.AsSpan(),
            inputGrad is null ? new float[shape.Length] : inputGrad.AsSpan(), gammaGrad is null ? new float[shape.Channels] : gammaGrad.AsSpan(),
            betaGrad is null ? new float[shape.Channels] : betaGrad.AsSpan(), shape);

    public override void LinearForward(Tensor input, Tensor weight, Tensor? bias, Tensor output, in LinearShape shape) =>
        K.Linear.Forward<float>(input.AsSpan(), weight.AsSpan(), Span(bias), output.AsSpan(), shape);

    public override void LinearBackwardInput(Tensor outputGrad, Tensor weight, Tensor inputGrad, in LinearShape shape) =>
        K.Linear.BackwardInput<float>(outputGrad.AsSpan(), weight.AsSpan(), inputGrad.AsSpan(), shape);

    public override void LinearBackwardWeight(Tensor input, Tensor outputGrad, Tensor weightGrad, in LinearShape shape) =>
        K.Linear.BackwardWeight<float>(input.AsSpan(), outputGrad.AsSpan(), weightGrad.AsSpan(), shape);

    public override void LinearBackwardBias(Tensor outputGrad, Tensor biasGrad, in LinearShape shape) =>
        K.Linear.BackwardBias<float>(outputGrad.AsSpan(), biasGrad.AsSpan(), shape);

    public override void ReLUForward(Tensor input, Tensor output) => K.ReLU.Forward<float>(input.AsSpan(), output.AsSpan());
    public override void ReLUBackward(Tensor input, Tensor outputGrad, Tensor inputGrad) =>
        K.ReLU.Backward<float>(input.AsSpan(), outputGrad.AsSpan(), inputGrad.AsSpan());

    public override void TanhForward(Tensor input, Tensor output) => K.Tanh.Forward<float>(input.AsSpan(), output.AsSpan());
    public override void TanhBackward(Tensor output, Tensor outputGrad, Tensor inputGrad) =>
        K.Tanh.Backward<float>(output.AsSpan(), outputGrad.AsSpan(), inputGrad.AsSpan());

    public override void SigmoidForward(Tensor input, Tensor output) => K.Sigmoid.Forward<float>(input.AsSpan(), output.AsSpan());
    public override void SigmoidBackward(Tensor output, Tensor outputGrad, Tensor inputGrad) =>
        K.Sigmoid.Backward<float>(output.AsSpan(), outputGrad.AsSpan(), inputGrad.AsSpan());

    public override void SoftmaxCrossEntropyForward(Tensor logits, Indices labels, Tensor probabilities, Tensor loss) =>
        loss.AsSpan()[0] = K.SoftmaxCrossEntropy.Forward<float>(logits.AsSpan(), labels.Host, probabilities.AsSpan(), logits.Size(0), logits.Size(1));

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, Indices labels, Tensor lossGrad, Tensor logitsGrad) =>
        K.SoftmaxCrossEntropy.Backward<float>(probabilities.AsSpan(), labels.Host, lossGrad.AsSpan()[0], logitsGrad.AsSpan(),
            probabilities.Size(0), probabilities.Size(1));

    public override void AdamStep(Tensor parameter, Tensor grad, Tensor firstMoment, Tensor secondMoment, int step,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled) =>
        K.Adam.Step<float>(parameter.AsSpan(), grad.AsSpan(), firstMoment.AsSpan(), secondMoment.AsSpan(), step,
            learningRate, beta1, beta2, eps, weightDecay, decoupled);

    public override void SgdStep(Tensor parameter, Tensor grad, Tensor? momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov) =>
        K.Sgd.Step<float>(parameter.AsSpan(), grad.AsSpan(), Span(momentumBuffer), firstStep, learningRate, momentum,
            dampening, weightDecay, nesterov);

    public override void Accumulate(Tensor source, Tensor target)
    {
        var s = source.AsSpan();
        var t = target.AsSpan();
        for (var i = 0; i < t.Length; i++) t[i] += s[i];
    }

    private static int SliceCount(int batch) => Math.Clamp(Environment.ProcessorCount, 1, batch);

    private static (int Start, int Count) Slice(int batch, int slices, int index)
    {
        var start = (int)((long)batch * index / slices);
        return (start, (int)((long)batch * (index + 1) / slices) - start);
    }

    private static void ForEachBatchSlice(int batch, Action<int, int> run)
    {
        var slices = SliceCount(batch);
        if (slices == 1) run(0, batch);
        else Parallel.For(0, slices, i => { var (start, count) = Slice(batch, slices, i); run(start, count); });
    }

    /// <summary>Images start .. start + count of a batch tensor whose images hold perImage values each.</summary>
    private static Span<float> Images(Tensor batch, int perImage, int start, int count) =>
        batch.Data.AsSpan(start * perImage, count * perImage);

    private static Span<float> Span(Tensor? tensor) => tensor is null ? default : tensor.AsSpan();
}
