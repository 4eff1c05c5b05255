using LeNet.Core;
using LeNet.Mnist;

namespace LeNet.Train;

/// <summary>
/// The input tensor and label array a batch is copied into, reused from batch to batch: one pair for full batches and
/// one for a last, smaller batch, so that loading a batch allocates nothing in steady state.
/// </summary>
internal sealed class BatchBuffers(Device device, int batchSize, int imageSize)
{
    private readonly (Tensor Images, int[] Labels) _full = Create(device, batchSize, imageSize);
    private (Tensor Images, int[] Labels)? _last;

    /// <summary>
    /// Copies batch <paramref name="index"/> of the epoch in; returns tensors sized to its image count.
    /// </summary>
    public (Tensor Images, int[] Labels) Load(MnistBatcher batches, int index)
    {
        var count = batches.BatchIndices(index).Length;
        var target = count == batchSize ? _full
            : _last is { } last && last.Labels.Length == count ? last
            : (_last = Create(device, count, imageSize)).Value;
        batches.CopyBatch(index, target.Images.AsSpan(), target.Labels);
        return target;
    }

    private static (Tensor, int[]) Create(Device device, int count, int imageSize) =>
        (Tensor.Zeros(device, count, 1, imageSize, imageSize), new int[count]);
}
