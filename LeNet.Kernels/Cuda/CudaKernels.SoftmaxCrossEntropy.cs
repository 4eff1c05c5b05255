using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Softmax-cross-entropy over logits [N, Classes]: the forward is one group, each thread taking whole rows (max,
// exp, normalise, −log p[label]), the per-row losses then summed in shared memory into the mean, which stays on the
// device; it can also write the logits' gradient in the same launch, so a training step needs no separate backward.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, int> _softmaxCrossEntropyForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>,
        ArrayView<float>, int, int, int> _softmaxCrossEntropyBackward = null!;

    private void LoadSoftmaxCrossEntropy()
    {
        _softmaxCrossEntropyForward = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, int, int, float, int>(SoftmaxCrossEntropyForwardKernel);
        _softmaxCrossEntropyBackward = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int,
            int, int>(SoftmaxCrossEntropyBackwardKernel);
    }

    /// <summary>
    /// Overwrites probabilities [N, Classes] with the softmax, losses [N] with −log softmax(logits[n])[labels[n]] and
    /// meanLoss[0] with their mean (PyTorch's CrossEntropyLoss), all on the device: nothing is read back. When
    /// <paramref name="logitsGrad"/> is not empty it also adds lossGrad·(probabilities − onehot)/N to it, the backward
    /// fused into the forward (without <paramref name="accumulateGradient"/> it overwrites logitsGrad instead). A label
    /// outside [0, Classes) cannot be reported from the device: its loss is NaN.
    /// </summary>
    public void SoftmaxCrossEntropyForward(ArrayView<float> logits, ArrayView<int> labels,
        ArrayView<float> probabilities, ArrayView<float> losses, ArrayView<float> meanLoss, int batch, int classes,
        ArrayView<float> logitsGrad = default, float lossGrad = 1f, bool accumulateGradient = true)
    {
        ValidateSoftmax(logits.Length, nameof(logits), labels, probabilities.Length, nameof(probabilities),
            batch, classes);
        var shape = (Batch: batch, Classes: classes);
        SpanLength.Require(Checked(losses.Length, nameof(losses)), batch, nameof(losses), shape);
        SpanLength.Require(Checked(meanLoss.Length, nameof(meanLoss)), 1, nameof(meanLoss), shape);
        SpanLength.RequireOrEmpty(Checked(logitsGrad.Length, nameof(logitsGrad)), batch * classes,
            nameof(logitsGrad), shape);
        _softmaxCrossEntropyForward(Stream, new KernelConfig(1, ReductionGroupSize), logits, labels, probabilities,
            losses, meanLoss, OrPlaceholder(logitsGrad, probabilities), batch, classes, lossGrad,
            logitsGrad.Length == 0 ? 0 : accumulateGradient ? 1 : 2);
    }

    /// <summary>
    /// logitsGrad += lossGrad[0]·(probabilities − onehot(labels))/N. The loss gradient is read on the device (one
    /// element), so a backward pass seeded there needs no round trip to the host. Without <paramref name="accumulate"/>
    /// logitsGrad is overwritten, its old contents ignored.
    /// </summary>
    public void SoftmaxCrossEntropyBackward(ArrayView<float> probabilities, ArrayView<int> labels,
        ArrayView<float> lossGrad, ArrayView<float> logitsGrad, int batch, int classes, bool accumulate = true)
    {
        ValidateSoftmax(probabilities.Length, nameof(probabilities), labels, logitsGrad.Length, nameof(logitsGrad),
            batch, classes);
        SpanLength.Require(Checked(lossGrad.Length, nameof(lossGrad)), 1, nameof(lossGrad),
            (Batch: batch, Classes: classes));
        _softmaxCrossEntropyBackward(Stream, StrideConfig((long)batch * classes), probabilities, labels, lossGrad,
            logitsGrad, batch, classes, accumulate ? 1 : 0);
    }

    private static void SoftmaxCrossEntropyForwardKernel(ArrayView<float> logits, ArrayView<int> labels,
        ArrayView<float> probabilities, ArrayView<float> losses, ArrayView<float> meanLoss, ArrayView<float> logitsGrad,
        int batch, int classes, float lossGrad, int writeGradient)
    {
        // writeGradient: 0 none, 1 added to logitsGrad, 2 overwriting it.
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        float partial = 0f, scale = lossGrad / batch;
        for (int n = Group.IdxX; n < batch; n += Group.DimX)
        {
            int row = n * classes;
            float max = logits[row];
            for (int j = 1; j < classes; j++)
                max = MathF.Max(max, logits[row + j]);
            float sumExp = 0f;
            for (int j = 0; j < classes; j++)
            {
                float e = DeviceMath.Exp(logits[row + j] - max); // ≤ 1: no overflow
                probabilities[row + j] = e;
                sumExp += e;
            }
            float inverse = 1f / sumExp;
            int label = labels[n];
            for (int j = 0; j < classes; j++)
            {
                float p = probabilities[row + j] * inverse;
                probabilities[row + j] = p;
                if (writeGradient != 0)
                    Put(logitsGrad, row + j, scale * (j == label ? p - 1f : p), writeGradient == 1 ? 1 : 0);
            }
            float loss = (uint)label < (uint)classes ? DeviceMath.Log(sumExp) - (logits[row + label] - max) : float.NaN;
            losses[n] = loss;
            partial += loss;
        }
        float total = GroupReduction.SumToFirst(scratch, partial);
        if (Group.IdxX == 0)
            meanLoss[0] = total / batch;
    }

    private static void SoftmaxCrossEntropyBackwardKernel(ArrayView<float> probabilities, ArrayView<int> labels,
        ArrayView<float> lossGrad, ArrayView<float> logitsGrad, int batch, int classes, int accumulate)
    {
        int total = batch * classes, stride = Grid.DimX * Group.DimX;
        float scale = lossGrad[0] / batch;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(logitsGrad, i, scale * (i % classes == labels[i / classes] ? probabilities[i] - 1f : probabilities[i]),
                accumulate);
    }

    private static void ValidateSoftmax(long matrixLength, string matrixName, ArrayView<int> labels, long otherLength,
        string otherName, int batch, int classes)
    {
        if (batch < 1)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch must hold at least one example.");
        if (classes < 1)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "There must be at least one class.");
        var shape = (Batch: batch, Classes: classes);
        SpanLength.Require(Checked(matrixLength, matrixName), batch * classes, matrixName, shape);
        SpanLength.Require(Checked(otherLength, otherName), batch * classes, otherName, shape);
        SpanLength.Require(Checked(labels.Length, nameof(labels)), batch, nameof(labels), shape);
    }
}
