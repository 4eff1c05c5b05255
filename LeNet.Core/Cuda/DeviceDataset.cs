namespace LeNet.Core.Cuda;

/// <summary>
/// A labelled image set uploaded once to a GPU, batches gathered on the device by an index order: one launch per
/// batch, nothing copied per step. Batch tensors are reused: valid until the next <see cref="Batch"/> of that size.
/// With an augmentation the gather distorts each image as it copies it, in the same one launch.
/// </summary>
public sealed class DeviceDataset : Training.BatchSource
{
    private readonly Tensor _images;
    private readonly Indices _labels, _order;
    private readonly int[] _imageShape;
    private readonly int _imageLength;
    private readonly CudaBackend _backend;
    private (Tensor Images, Indices Labels) _full, _last;
    private Indices _seedAndEpoch; // what the augmenting gather reads its draw's seed and epoch from, once set

    public DeviceDataset(Device device, ReadOnlySpan<float> images, int[] labels, params ReadOnlySpan<int> imageShape)
        : base(imageShape)
    {
        ArgumentNullException.ThrowIfNull(device);
        _backend = device.Backend as CudaBackend ?? throw new ArgumentException(
            $"A DeviceDataset lives on a GPU device, not on {device}; on the CPU, copy batches from the host arrays.",
            nameof(device));
        _imageLength = ImageLength(images, labels, imageShape);
        _imageShape = imageShape.ToArray();
        (Device, Count) = (device, labels.Length);
        _images = Tensor.FromArray(device, images, labels.Length, _imageLength);
        _labels = new Indices(labels).To(device);
        _order = Indices.Allocate(device, labels.Length);
        SetOrder(Enumerable.Range(0, Count).ToArray());
    }

    public override Device Device { get; }
    public override int Count { get; }

    public override void SetOrder(ReadOnlySpan<int> order)
    {
        CheckOrder(order);
        _order.CopyFrom(order);
    }

    public override (Tensor Images, Indices Labels) Batch(int start, int count)
    {
        CheckBatch(start, count);
        var target = Target(count);
        if (Augmentation is { } augmentation)
            _backend.Augment(_images, _labels, _order.Slice(start, count), target.Images, target.Labels, ImageSide,
                augmentation, _seedAndEpoch);
        else
            _backend.Gather(_images, _labels, _order.Slice(start, count), target.Images, target.Labels, _imageLength);
        return target;
    }

    /// <summary>
    /// The batch at order[step · batchSize ..], step read on the device from the schedule's cursor, so that the launch
    /// is the same at every step.
    /// </summary>
    public (Tensor Images, Indices Labels) Batch(StepSchedule schedule, int batchSize, int count)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (schedule.Device != Device)
            throw new ArgumentException($"The schedule lives on {schedule.Device}, the dataset on {Device}.",
                nameof(schedule));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, batchSize);
        if ((long)schedule.Step * batchSize + count > Count)
            throw new ArgumentOutOfRangeException(nameof(count),
                $"Step {schedule.Step}'s batch of {count} at {batchSize} a step ends past the {Count} images.");
        var target = Target(count);
        if (Augmentation is { } augmentation)
            _backend.AugmentAtCursor(_images, _labels, _order, schedule.Cursor, batchSize, target.Images, target.Labels,
                ImageSide, augmentation, _seedAndEpoch);
        else
            _backend.GatherAtCursor(_images, _labels, _order, schedule.Cursor, batchSize, target.Images, target.Labels,
                _imageLength);
        return target;
    }

    protected override void OnDrawChanged()
    {
        if (Augmentation is null) return;
        if (_seedAndEpoch.Length == 0) _seedAndEpoch = Indices.Allocate(Device, 2);
        _seedAndEpoch.CopyFrom([AugmentationSeed, Epoch]);
    }

    // The reused batch tensors for a batch of `count`: the full size, and one other (an epoch's smaller last batch).
    private (Tensor Images, Indices Labels) Target(int count)
    {
        ref var target = ref _full.Labels.Length == 0 || _full.Labels.Length == count ? ref _full : ref _last;
        if (target.Labels.Length != count)
        {
            Span<int> shape = stackalloc int[_imageShape.Length + 1];
            shape[0] = count;
            _imageShape.CopyTo(shape[1..]);
            target = (Tensor.Zeros(Device, shape), Indices.Allocate(Device, count));
        }
        return target;
    }
}
