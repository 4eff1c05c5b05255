// Softmax cross-entropy over logits [N, Classes]: per row max shift, exp, normalise (rows are short: scalar); loss
// summed in double; backward one TensorPrimitives multiply-add.
using System.Numerics.Tensors;

namespace LeNet.Kernels.Cpu;

/// <summary>Fused softmax and cross-entropy over logits [N, Classes] with integer labels, mean over the batch
/// (PyTorch's CrossEntropyLoss).</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss −(1/N)·Σ_n log softmax(logits[n])[label[n]], computed with log-sum-exp (max subtracted).
    /// Overwrites probabilities [N, Classes] with the softmax, saved for backward. Labels must lie in [0, Classes).
    /// </summary>
    public static float Forward(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> probabilities,
        int batch, int classes)
    {
        Validate(logits.Length, nameof(logits), labels, probabilities.Length, nameof(probabilities), batch, classes);

        // −log softmax(z)[label] = log Σ e^(z − max) − (z[label] − max)
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> z = logits.Slice(n * classes, classes);
            float max = z[0];
            for (int j = 1; j < classes; j++)
                max = MathF.Max(max, z[j]); // IEEE maximum: a NaN propagates into the whole row, as in the Reference
            total -= z[labels[n]] - max;
            // MathF.Exp rather than TensorPrimitives.Exp: the vectorised one is not exact at 0, and a row's largest
            // term must be exactly 1 (e^0) so that a confident prediction's loss is not swamped by its error.
            Span<float> prob = probabilities.Slice(n * classes, classes);
            float sumExp = 0;
            for (int j = 0; j < classes; j++)
            {
                prob[j] = MathF.Exp(z[j] - max); // ≤ 1: no overflow
                sumExp += prob[j];
            }
            float inverse = 1 / sumExp;
            for (int j = 0; j < classes; j++)
                prob[j] *= inverse;
            total += Math.Log(sumExp);
        }
        return (float)(total / batch);
    }

    /// <summary>logitsGrad += lossGrad·(probabilities − onehot(labels))/N.</summary>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, float lossGrad,
        Span<float> logitsGrad, int batch, int classes)
    {
        Validate(probabilities.Length, nameof(probabilities), labels, logitsGrad.Length, nameof(logitsGrad), batch,
            classes);
        float scale = lossGrad / batch;
        TensorPrimitives.MultiplyAdd(probabilities, scale, logitsGrad, logitsGrad);
        for (int n = 0; n < batch; n++)
            logitsGrad[n * classes + labels[n]] -= scale;
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
