using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// Softmax cross-entropy of logits [N, Classes] against integer labels, averaged over the batch — PyTorch's
    /// CrossEntropyLoss. Returns a scalar tensor.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] labels) => CrossEntropy(logits, new Indices(labels));

    /// <inheritdoc cref="CrossEntropy(Tensor, int[])"/>
    /// <remarks>
    /// Labels on a GPU device (for logits on it) are not checked on the host — that would wait for the device; a label
    /// outside [0, Classes) gives a NaN loss there.
    /// </remarks>
    public static Tensor CrossEntropy(Tensor logits, Indices labels)
    {
        RequireRank(logits, 2, "CrossEntropy logits", "[N, Classes]");
        if (labels.Length != logits.Size(0))
            throw new ArgumentException($"CrossEntropy got {labels.Length} labels for a batch of {logits.Size(0)} logits.");
        if (labels.IsHost != logits.Device.IsCpu)
            throw new ArgumentException($"The labels live {(labels.IsHost ? "in host memory" : "on a GPU")} but the logits on {logits.Device}; move them with Indices.To(device).");
        var classes = logits.Size(1);
        if (labels.IsHost)
            foreach (var label in labels.Host)
                if ((uint)label >= (uint)classes)
                    throw new ArgumentOutOfRangeException(nameof(labels), label, $"A label lies outside the {classes} classes [0, {classes}).");
        var probabilities = Workspace.Tensor(logits.Device, logits.Shape);
        var loss = Workspace.Tensor(logits.Device, []);
        var backend = logits.Device.Backend;
        if (!GradientTape.ShouldRecord(logits))
        {
            backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss);
            return loss;
        }
        // Where the backend can, the forward also writes the logits' gradient for a loss gradient of 1 — what a backward
        // pass from this loss gives them — so the backward needs no launch of its own.
        Tensor? unitGradient = null;
        if (backend.FusesCrossEntropyGradient)
            backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss, unitGradient = Workspace.Tensor(logits.Device, logits.Shape));
        else
            backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss);
        GradientTape.Record(loss, Workspace.Node<CrossEntropyBackward>().Set(logits, labels, probabilities, unitGradient), logits);
        return loss;
    }

    // The labels array is held, not copied: callers must not change it before backward.
    private sealed class CrossEntropyBackward : Node
    {
        private Tensor _logits = null!, _probabilities = null!;
        private Tensor? _unitGradient;
        private Indices _labels;

        public CrossEntropyBackward Set(Tensor logits, Indices labels, Tensor probabilities, Tensor? unitGradient)
        {
            (_logits, _labels, _probabilities, _unitGradient) = (logits, labels, probabilities, unitGradient);
            return this;
        }

        public override void Backward(Tensor outputGrad)
        {
            var backend = _logits.Device.Backend;
            // Seeded with the device's constant one (GradientTape.Backward from this loss): the forward wrote the gradient.
            if (_unitGradient is not null && ReferenceEquals(outputGrad, _logits.Device.One))
            {
                if (_logits.Grad is null && !_logits.IsLeaf)
                    _logits.BorrowGrad(_unitGradient);
                else
                    backend.Accumulate(_unitGradient, _logits.GradOrZeros());
            }
            else
                backend.SoftmaxCrossEntropyBackward(_probabilities, _labels, outputGrad, _logits.GradOrZeros());
        }
    }
}
