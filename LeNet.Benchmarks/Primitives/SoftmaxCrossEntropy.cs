// Softmax cross-entropy written the obvious way with TensorPrimitives (per row: max, subtract, exp, sum, divide), for
// benchmark comparison.
using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>
/// Fused softmax and cross-entropy over logits [N, Classes] by TensorPrimitives; same semantics as the Reference
/// kernel.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss; overwrites probabilities [N, Classes] with the softmax. Labels must lie in [0, Classes).
    /// </summary>
    public static float Forward(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> probabilities,
        int batch, int classes)
    {
        Validate(logits.Length, labels, probabilities.Length, batch, classes);
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<float> z = logits.Slice(n * classes, classes);
            Span<float> prob = probabilities.Slice(n * classes, classes);
            float max = TensorPrimitives.Max(z);
            total -= z[labels[n]] - max;
            TensorPrimitives.Subtract(z, max, prob);
            TensorPrimitives.Exp(prob, prob);
            float sumExp = TensorPrimitives.Sum(prob);
            TensorPrimitives.Divide(prob, sumExp, prob);
            total += Math.Log(sumExp);
        }
        return (float)(total / batch);
    }

    /// <summary>logitsGrad += lossGrad·(probabilities − onehot(labels))/N.</summary>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, float lossGrad,
        Span<float> logitsGrad, int batch, int classes)
    {
        Validate(probabilities.Length, labels, logitsGrad.Length, batch, classes);
        float scale = lossGrad / batch;
        TensorPrimitives.MultiplyAdd(probabilities, scale, logitsGrad, logitsGrad);
        for (int n = 0; n < batch; n++)
            logitsGrad[n * classes + labels[n]] -= scale;
    }

    private static void Validate(int matrixLength, ReadOnlySpan<int> labels, int otherLength, int batch, int classes)
    {
        if (batch < 1 || classes < 1)
            throw new ArgumentOutOfRangeException(nameof(batch), "The batch and the class count must be positive.");
        var shape = (Batch: batch, Classes: classes);
        SpanLength.Require(matrixLength, batch * classes, "logits", shape);
        SpanLength.Require(otherLength, batch * classes, "probabilities", shape);
        SpanLength.Require(labels.Length, batch, nameof(labels), shape);
        for (int n = 0; n < batch; n++)
            if ((uint)labels[n] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[n],
                    $"Label {labels[n]} of example {n} is outside [0, {classes}).");
    }
}
