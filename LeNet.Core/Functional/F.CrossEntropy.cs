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
        var probabilities = Workspace.Tensor(logits.Device, logits.Shape);
        var loss = Workspace.Tensor(logits.Device, []);
        logits.Device.Backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss);
        if (GradientTape.ShouldRecord(logits))
            GradientTape.Record(loss, Workspace.Node<CrossEntropyBackward>().Set(logits, labels, probabilities), logits);
        return loss;
    }

    // The labels array is held, not copied: callers must not change it before backward.
    private sealed class CrossEntropyBackward : Node
    {
        private Tensor _logits = null!, _probabilities = null!;
        private int[] _labels = [];

        public CrossEntropyBackward Set(Tensor logits, int[] labels, Tensor probabilities)
        {
            (_logits, _labels, _probabilities) = (logits, labels, probabilities);
            return this;
        }

        public override void Backward(Tensor outputGrad) =>
            _logits.Device.Backend.SoftmaxCrossEntropyBackward(_probabilities, _labels, outputGrad, _logits.GradOrZeros());
    }
}
