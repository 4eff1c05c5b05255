using LeNet.Kernels;

namespace LeNet.Core.Training;

/// <summary>
/// Labelled images served as batches in an index order (an epoch's shuffle, or file order), on the device that runs
/// the model: copied from host memory for the CPU, gathered on a GPU from a copy uploaded once
/// (<see cref="Cuda.DeviceDataset"/>). A batch's tensors are reused: valid until the next batch of the same size.
/// A training source may distort its batches on that device (<see cref="SetAugmentation"/>).
/// </summary>
public abstract class BatchSource
{
    // The side of the square one-channel images ([1, S, S] or [S, S]) an augmentation can distort; 0 for other shapes.
    private readonly int _side;

    protected BatchSource(ReadOnlySpan<int> imageShape) =>
        _side = imageShape switch
        {
            [1, var height, var width] when height == width => height,
            [var height, var width] when height == width => height,
            _ => 0,
        };

    /// <summary>The images (labels.Length of shape <paramref name="imageShape"/>, flat) on the device.</summary>
    public static BatchSource Create(Device device, float[] images, int[] labels, params int[] imageShape)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Backend.CreateBatchSource(device, images, labels, imageShape);
    }

    public abstract Device Device { get; }
    public abstract int Count { get; }

    /// <summary>Indices into 0..Count−1 (e.g. an epoch's permutation); file order at first.</summary>
    public abstract void SetOrder(ReadOnlySpan<int> order);

    /// <summary>Images [count, ...imageShape] and labels [count] of order[start .. start+count).</summary>
    public abstract (Tensor Images, Indices Labels) Batch(int start, int count);

    /// <summary>The distortion every batch gets, from <see cref="SetAugmentation"/>; null for none.</summary>
    public Augmentation? Augmentation { get; private set; }

    /// <summary>The seed of the augmentation's draw.</summary>
    public int AugmentationSeed { get; private set; }

    /// <summary>The epoch of the augmentation's draw, from <see cref="SetEpoch"/>.</summary>
    public int Epoch { get; private set; }

    /// <summary>
    /// Distorts every batch served from now on (null: none, the default), on this source's device: image i by the
    /// draw of (seed, epoch, i), as <see cref="Kernels.Reference.Augment"/> does, so a resumed or re-run epoch sees the
    /// same images. For a training source only (evaluate through another). On a GPU set it before the first step: a
    /// captured step replays the launches it was captured with (the epoch is read on the device, so it may change).
    /// </summary>
    public void SetAugmentation(Augmentation? augmentation, int seed)
    {
        if (augmentation is { } distortion)
        {
            distortion.Validate();
            if (_side == 0)
                throw new InvalidOperationException(
                    "Augmentation distorts square one-channel images ([1, S, S] or [S, S]); these are not.");
        }
        (Augmentation, AugmentationSeed) = (augmentation, seed);
        OnDrawChanged();
    }

    /// <summary>The epoch the augmentation draws for (the trainer's epoch number); set as each epoch starts.</summary>
    public void SetEpoch(int epoch)
    {
        Epoch = epoch;
        OnDrawChanged();
    }

    /// <summary>The side of the images an augmentation distorts (checked square and one-channel when set).</summary>
    protected int ImageSide => _side;

    /// <summary>The augmentation, its seed or the epoch changed (a GPU source copies them to the device).</summary>
    protected virtual void OnDrawChanged() { }

    protected void CheckOrder(ReadOnlySpan<int> order)
    {
        if (order.Length != Count)
            throw new ArgumentException($"The order lists {order.Length} indices for {Count} images.", nameof(order));
        foreach (var index in order)
            if ((uint)index >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(order), index,
                    $"An index lies outside the {Count} images.");
    }

    protected void CheckBatch(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Count);
    }

    /// <summary>The length of one image, after checking the images fill labels.Length of them.</summary>
    protected static int ImageLength(ReadOnlySpan<float> images, int[] labels, ReadOnlySpan<int> imageShape)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var imageLength = 1;
        foreach (var d in imageShape) imageLength *= d;
        if (imageLength < 1 || (long)labels.Length * imageLength != images.Length)
            throw new ArgumentException(
                $"{images.Length} pixel values are not {labels.Length} images of shape {Tensor.Format(imageShape)}.",
                nameof(images));
        return imageLength;
    }
}
