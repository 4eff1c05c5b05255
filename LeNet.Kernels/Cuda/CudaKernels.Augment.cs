using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Augmenting gather: as the gather (one thread per batch pixel, the first pixel's thread copying the label), but each
// pixel is sampled from its source image under the image's drawn transform (Reference.Augment), plus its noise. Each
// thread redraws its image's transform (four hashes, a sine and a cosine), cheaper than a second launch and a buffer.
// Seed and epoch are read from device memory, so a captured step replays with the next epoch's draws.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>,
        ArrayView<int>, int, Augmentation, ArrayView<int>> _augment = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>,
        int, ArrayView<float>, ArrayView<int>, int, Augmentation, ArrayView<int>> _augmentAtCursor = null!;

    private void LoadAugment()
    {
        _augment = Load<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, int,
            Augmentation, ArrayView<int>>(AugmentKernel);
        _augmentAtCursor = Load<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, ArrayView<float>,
            ArrayView<int>, int, Augmentation, ArrayView<int>>(AugmentAtCursorKernel);
    }

    /// <summary>
    /// As <see cref="Gather"/>, each image distorted as <see cref="Reference.Augment.Apply"/> distorts it: images are
    /// [count, size·size], and <paramref name="seedAndEpoch"/> holds the seed and the epoch of the draw.
    /// </summary>
    public void Augment(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<float> batchImages, ArrayView<int> batchLabels, int size, Augmentation augmentation,
        ArrayView<int> seedAndEpoch)
    {
        int batch = CheckAugment(images, labels, batchImages, batchLabels, size, augmentation, seedAndEpoch);
        SpanLength.Require(Checked(order.Length, nameof(order)), batch, nameof(order), (Batch: batch, Size: size));
        if (batch == 0)
            return;
        _augment(Stream, StrideConfig((long)batch * size * size), images, labels, order, batchImages, batchLabels, size,
            augmentation, seedAndEpoch);
    }

    /// <summary>
    /// As <see cref="Augment"/> with order.SubView(cursor[0] · <paramref name="stride"/>, batch), the start read on the
    /// device as <see cref="GatherAtCursor"/> reads it.
    /// </summary>
    public void AugmentAtCursor(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<int> cursor, int stride, ArrayView<float> batchImages, ArrayView<int> batchLabels, int size,
        Augmentation augmentation, ArrayView<int> seedAndEpoch)
    {
        int batch = CheckAugment(images, labels, batchImages, batchLabels, size, augmentation, seedAndEpoch);
        CheckAtCursor(order, cursor, stride, batch);
        if (batch == 0)
            return;
        _augmentAtCursor(Stream, StrideConfig((long)batch * size * size), images, labels, order, cursor, stride,
            batchImages, batchLabels, size, augmentation, seedAndEpoch);
    }

    private static int CheckAugment(ArrayView<float> images, ArrayView<int> labels, ArrayView<float> batchImages,
        ArrayView<int> batchLabels, int size, Augmentation augmentation, ArrayView<int> seedAndEpoch)
    {
        augmentation.Validate();
        if (size < 1)
            throw new ArgumentOutOfRangeException(nameof(size), size, "An image has at least one pixel.");
        if (seedAndEpoch.Length != 2)
            throw new ArgumentException($"The draw reads a seed and an epoch, not {seedAndEpoch.Length} values.",
                nameof(seedAndEpoch));
        return CheckGather(images, labels, batchImages, batchLabels, size * size);
    }

    private static void AugmentKernel(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<float> batchImages, ArrayView<int> batchLabels, int size, Augmentation augmentation,
        ArrayView<int> seedAndEpoch) =>
        AugmentFrom(images, labels, order, 0, batchImages, batchLabels, size, augmentation, seedAndEpoch);

    private static void AugmentAtCursorKernel(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<int> cursor, int stride, ArrayView<float> batchImages, ArrayView<int> batchLabels, int size,
        Augmentation augmentation, ArrayView<int> seedAndEpoch) =>
        AugmentFrom(images, labels, order, cursor[0] * stride, batchImages, batchLabels, size, augmentation,
            seedAndEpoch);

    /// <summary>In a kernel: batch image b and its label from images[order[start + b]], distorted.</summary>
    private static void AugmentFrom(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order, int start,
        ArrayView<float> batchImages, ArrayView<int> batchLabels, int size, Augmentation augmentation,
        ArrayView<int> seedAndEpoch)
    {
        int length = size * size, total = (int)batchLabels.Length * length, stride = Grid.DimX * Group.DimX;
        int seed = seedAndEpoch[0], epoch = seedAndEpoch[1];
        float centre = AffineDraw.Centre(size), background = augmentation.Background;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            int b = i / length, pixel = i % length, source = order[start + b], x = pixel % size, y = pixel / size;
            var draw = augmentation.Draw(seed, epoch, source);
            float sx = draw.SourceX(x, y, centre), sy = draw.SourceY(x, y, centre);
            float x0 = IntrinsicMath.CPUOnly.Floor(sx), y0 = IntrinsicMath.CPUOnly.Floor(sy);
            int left = (int)x0, top = (int)y0;
            long image = (long)source * length;
            float value = AffineDraw.Blend(
                At(images, image, size, left, top, background), At(images, image, size, left + 1, top, background),
                At(images, image, size, left, top + 1, background),
                At(images, image, size, left + 1, top + 1, background), sx - x0, sy - y0);
            if (augmentation.Noise > 0)
                value += augmentation.NoiseAt(seed, epoch, source, pixel);
            batchImages[i] = value;
            if (pixel == 0)
                batchLabels[b] = labels[source];
        }
    }

    private static float At(ArrayView<float> images, long image, int size, int x, int y, float background) =>
        x < 0 || y < 0 || x >= size || y >= size ? background : images[image + y * size + x];
}
