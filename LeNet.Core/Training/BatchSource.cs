namespace LeNet.Core.Training;

/// <summary>
/// Labelled images served as batches in an index order (an epoch's shuffle, or file order), on the device that runs
/// the model: copied from host memory for the CPU, gathered on a GPU from a copy uploaded once
/// (<see cref="Cuda.DeviceDataset"/>). A batch's tensors are reused: valid until the next batch of the same size.
/// </summary>
public abstract class BatchSource
{
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
