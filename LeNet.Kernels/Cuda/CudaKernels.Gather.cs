using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Batch gather: the whole dataset lives on the device; a batch is copied out of it by an index buffer (the epoch's
// shuffled order, sliced to the batch), one thread per pixel, the first pixel's thread also copying the label.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, int> _gather = null!;

    private void LoadGather() =>
        _gather = Load<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, int>(GatherKernel);

    /// <summary>
    /// batchImages[b] = images[order[b]] and batchLabels[b] = labels[order[b]] for b &lt; order.Length, where images is
    /// [count, imageSize] and labels [count]. Pass the epoch's order sliced to the batch (order.SubView(start, batch)).
    /// Indices are not checked on the device: they must lie in [0, count).
    /// </summary>
    public void Gather(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order, ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize)
    {
        if (imageSize < 1)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "An image has at least one pixel.");
        int batch = Checked(order.Length, nameof(order)), count = Checked(labels.Length, nameof(labels));
        var shape = (Count: count, Batch: batch, ImageSize: imageSize);
        SpanLength.Require(Checked(images.Length, nameof(images)), count * imageSize, nameof(images), shape);
        SpanLength.Require(Checked(batchImages.Length, nameof(batchImages)), batch * imageSize, nameof(batchImages), shape);
        SpanLength.Require(Checked(batchLabels.Length, nameof(batchLabels)), batch, nameof(batchLabels), shape);
        if (batch == 0)
            return;
        _gather(Stream, StrideConfig((long)batch * imageSize), images, labels, order, batchImages, batchLabels, imageSize);
    }

    private static void GatherKernel(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order, ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize)
    {
        int total = (int)order.Length * imageSize, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            int b = i / imageSize, pixel = i % imageSize, source = order[b];
            batchImages[i] = images[(long)source * imageSize + pixel];
            if (pixel == 0)
                batchLabels[b] = labels[source];
        }
    }
}
