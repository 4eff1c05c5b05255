namespace LeNet.Core.Training;

/// <summary>
/// Batches copied from host arrays into reused tensors: one pair for full batches, one for the last. With an
/// augmentation the images are distorted as they are copied; either way across the CPU kernels' workers.
/// </summary>
internal sealed class HostBatchSource : BatchSource
{
    private readonly float[] _images;
    private readonly int[] _labels, _order, _imageShape;
    private readonly int _imageLength;
    private (Tensor Images, int[] Labels) _full, _last;

    public HostBatchSource(Device device, float[] images, int[] labels, int[] imageShape) : base(imageShape)
    {
        _imageLength = ImageLength(images, labels, imageShape);
        (Device, _images, _labels, _imageShape) = (device, images, labels, imageShape);
        _order = new int[labels.Length];
        for (var i = 0; i < _order.Length; i++) _order[i] = i;
    }

    public override Device Device { get; }

    public override int Count => _labels.Length;

    public override void SetOrder(ReadOnlySpan<int> order)
    {
        CheckOrder(order);
        order.CopyTo(_order);
    }

    public override (Tensor Images, Indices Labels) Batch(int start, int count)
    {
        CheckBatch(start, count);
        ref var target = ref _full.Labels is null || _full.Labels.Length == count ? ref _full : ref _last;
        if (target.Labels?.Length != count)
            target = (Tensor.Zeros(Device, [count, .. _imageShape]), new int[count]);
        var images = target.Images.AsSpan();
        var indices = _order.AsSpan(start, count);
        if (Augmentation is { } augmentation)
            Kernels.Cpu.Augment.Apply(_images, indices, images, ImageSide, augmentation, AugmentationSeed, Epoch);
        else
            Kernels.Cpu.Gather.Rows(_images, indices, images, _imageLength);
        for (var k = 0; k < count; k++) target.Labels[k] = _labels[indices[k]];
        return (target.Images, target.Labels);
    }
}
