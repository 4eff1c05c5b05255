using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// Softmax cross-entropy of logits [N, Classes] against integer labels, averaged over the batch — PyTorch's
    /// CrossEntropyLoss. Returns a scalar tensor.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] labels)
    {
        RequireRank(logits, 2, "CrossEntropy logits", "[N, Classes]");
        if (labels.Length != logits.Size(0))
            throw new ArgumentException($"CrossEntropy got {labels.Length} labels for a batch of {logits.Size(0)} logits.");
        var classes = logits.Size(1);
        foreach (var label in labels)
            if ((uint)label >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"A label lies outside the {classes} classes [0, {classes}).");
        var probabilities = Tensor.ZerosLike(logits);
        var loss = Tensor.Zeros();
        logits.Device.Backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss);
        GradientTape.Record(loss, new CrossEntropyBackward(logits, labels, probabilities), logits);
        return loss;
    }

    private sealed class CrossEntropyBackward(Tensor logits, int[] labels, Tensor probabilities) : Node
    {
        public override void Backward(Tensor outputGrad) =>
            logits.Device.Backend.SoftmaxCrossEntropyBackward(probabilities, labels, outputGrad, logits.GradOrZeros());
    }
}
