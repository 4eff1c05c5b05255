using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Fused softmax and cross-entropy over logits [N, Classes] with integer labels, mean over the batch (PyTorch's CrossEntropyLoss).</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss −(1/N)·Σ_n log softmax(logits[n])[label[n]], computed with log-sum-exp (max subtracted).
    /// Overwrites probabilities [N, Classes] with the softmax, saved for backward. Labels must lie in [0, Classes).
    /// </summary>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> probabilities, int batch, int classes)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>logitsGrad += lossGrad·(probabilities − onehot(labels))/N.</summary>
    public static void Backward<T>(ReadOnlySpan<T> probabilities, ReadOnlySpan<int> labels, T lossGrad, Span<T> logitsGrad, int batch, int classes)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
