using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Batch gather: the whole dataset lives on the device; a batch is copied out of it by an index buffer (the epoch's
// shuffled order, sliced to the batch), one thread per pixel, the first pixel's thread also copying the label.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>,
        ArrayView<int>, int> _gather = null!;

    private void LoadGather() =>
        _gather = Load<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>,
            int>(GatherKernel);

    /// <summary>
    /// batchImages[b] = images[order[b]] and batchLabels[b] = labels[order[b]] for b &lt; order.Length, where images is
    /// [count, imageSize] and labels [count]. Pass the epoch's order sliced to the batch (order.SubView(start, batch)).
    /// Indices are not checked on the device: they must lie in [0, count).
    /// </summary>
    public void Gather(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize)
    {
        int batch = CheckGather(images, labels, batchImages, batchLabels, imageSize);
        SpanLength.Require(Checked(order.Length, nameof(order)), batch, nameof(order),
            (Batch: batch, ImageSize: imageSize));
        if (batch == 0)
            return;
        _gather(Stream, StrideConfig((long)batch * imageSize), images, labels, order, batchImages,
            batchLabels, imageSize);
    }

    /// <summary>The checks every gather makes: image size, and images/labels/batch buffers that fit each other; returns
    /// the batch size.</summary>
    private static int CheckGather(ArrayView<float> images, ArrayView<int> labels, ArrayView<float> batchImages,
        ArrayView<int> batchLabels, int imageSize)
    {
        if (imageSize < 1)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "An image has at least one pixel.");
        int batch = Checked(batchLabels.Length, nameof(batchLabels)), count = Checked(labels.Length, nameof(labels));
        var shape = (Count: count, Batch: batch, ImageSize: imageSize);
        SpanLength.Require(Checked(images.Length, nameof(images)), count * imageSize, nameof(images), shape);
        SpanLength.Require(Checked(batchImages.Length, nameof(batchImages)), batch * imageSize,
            nameof(batchImages), shape);
        return batch;
    }

    private static void GatherKernel(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize) =>
        GatherFrom(images, labels, order, 0, batchImages, batchLabels, imageSize);

    /// <summary>In a kernel: batch image b (and its label) from images[order[start + b]], one pixel per thread,
    /// grid-stride.</summary>
    private static void GatherFrom(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order, int start,
        ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize)
    {
        int total = (int)batchLabels.Length * imageSize, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            int b = i / imageSize, pixel = i % imageSize, source = order[start + b];
            batchImages[i] = images[(long)source * imageSize + pixel];
            if (pixel == 0)
                batchLabels[b] = labels[source];
        }
    }
}
