using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>Fused softmax and cross-entropy over logits [N, Classes] with integer labels, mean over the batch
/// (PyTorch's CrossEntropyLoss).</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss −(1/N)·Σ_n log softmax(logits[n])[label[n]], computed with log-sum-exp (max subtracted).
    /// Overwrites probabilities [N, Classes] with the softmax, saved for backward. Labels must lie in [0, Classes).
    /// </summary>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> probabilities,
        int batch, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(logits.Length, nameof(logits), labels, probabilities.Length, nameof(probabilities), batch, classes);

        T total = T.Zero;
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<T> z = logits.Slice(n * classes, classes);
            Span<T> prob = probabilities.Slice(n * classes, classes);

            T max = z[0];
            for (int j = 1; j < classes; j++)
                max = T.Max(max, z[j]);

            T sumExp = T.Zero;
            for (int j = 0; j < classes; j++)
            {
                prob[j] = T.Exp(z[j] - max); // ≤ 1: no overflow, and the largest term is exactly 1
                sumExp += prob[j];
            }
            for (int j = 0; j < classes; j++)
                prob[j] /= sumExp;

            // −log softmax(z)[label] = log Σ e^(z − max) − (z[label] − max)
            total += T.Log(sumExp) - (z[labels[n]] - max);
        }
        return total / T.CreateChecked(batch);
    }

    /// <summary>logitsGrad += lossGrad·(probabilities − onehot(labels))/N.</summary>
    public static void Backward<T>(ReadOnlySpan<T> probabilities, ReadOnlySpan<int> labels, T lossGrad,
        Span<T> logitsGrad, int batch, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(probabilities.Length, nameof(probabilities), labels, logitsGrad.Length, nameof(logitsGrad),
            batch, classes);

        T scale = lossGrad / T.CreateChecked(batch);
        for (int n = 0; n < batch; n++)
        for (int j = 0; j < classes; j++)
        {
            T target = j == labels[n] ? T.One : T.Zero;
            logitsGrad[n * classes + j] += scale * (probabilities[n * classes + j] - target);
        }
    }

    private static void Validate(int matrixLength, string matrixName, ReadOnlySpan<int> labels, int otherLength,
        string otherName, int batch, int classes)
    {
        if (batch < 1)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch must hold at least one example.");
        if (classes < 1)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "There must be at least one class.");
        var shape = (Batch: batch, Classes: classes); // a struct: formatted only if a check fails
        SpanLength.Require(matrixLength, batch * classes, matrixName, shape);
        SpanLength.Require(otherLength, batch * classes, otherName, shape);
        SpanLength.Require(labels.Length, batch, nameof(labels), shape);
        for (int n = 0; n < batch; n++)
            if ((uint)labels[n] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[n],
                    $"Label {labels[n]} of example {n} is outside [0, {classes}).");
    }
}
