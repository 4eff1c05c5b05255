using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// Softmax cross-entropy of logits [N, Classes] against integer labels, averaged over the batch (PyTorch's
    /// CrossEntropyLoss): a scalar.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] labels) => CrossEntropy(logits, new Indices(labels));

    /// <inheritdoc cref="CrossEntropy(Tensor, int[])"/>
    /// <remarks>GPU labels go unchecked (that would wait for the device): one outside [0, Classes) gives NaN.</remarks>
    public static Tensor CrossEntropy(Tensor logits, Indices labels)
    {
        RequireRank(logits, 2, "CrossEntropy logits", "[N, Classes]");
        RequireLabels(labels, logits.Device, logits.Size(0), logits.Size(1));
        var probabilities = Workspace.Tensor(logits.Device, logits.Shape);
        var loss = Workspace.Tensor(logits.Device, []);
        var backend = logits.Device.Backend;
        if (!GradientTape.ShouldRecord(logits))
        {
            backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss, unitLogitsGrad: null);
            return loss;
        }
        // The forward also writes the logits' gradient for a loss gradient of 1 (what a backward pass from this loss
        // gives them), so that pass needs no launch of its own.
        var unitGradient = Workspace.Tensor(logits.Device, logits.Shape);
        backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss, unitGradient);
        GradientTape.Record(loss,
            Workspace.Node<CrossEntropyBackward>().Set((logits, labels, probabilities, unitGradient)), logits);
        return loss;
    }

    // The labels array is held, not copied: callers must not change it before backward.
    private sealed class CrossEntropyBackward : SavingNode<CrossEntropyBackward,
        (Tensor Logits, Indices Labels, Tensor Probabilities, Tensor UnitGradient)>
    {
        public override void BackwardFromOne(Device device) => GradientTape.Pass(Saved.Logits, Saved.UnitGradient);
        public override void Backward(Tensor outputGrad) =>
            Saved.Logits.Device.Backend.SoftmaxCrossEntropyBackward(Saved.Probabilities, Saved.Labels, outputGrad,
                Target(Saved.Logits)!.Value);
    }

    // One per row, on the logits' device, and (on the host, where it costs no wait) each a class.
    private static void RequireLabels(Indices labels, Device device, int batch, int classes)
    {
        if (labels.Length != batch)
            throw new ArgumentException($"CrossEntropy got {labels.Length} labels for a batch of {batch} logits.");
        if (labels.IsHost != device.IsCpu)
            throw new ArgumentException(
                $"The labels live {(labels.IsHost ? "in host memory" : "on a GPU")} but the logits on " +
                $"{device}; move them with Indices.To(device).");
        if (labels.IsHost)
            foreach (var label in labels.Host)
                if ((uint)label >= (uint)classes)
                    throw new ArgumentOutOfRangeException(nameof(labels), label,
                        $"A label lies outside the {classes} classes [0, {classes}).");
    }
}
