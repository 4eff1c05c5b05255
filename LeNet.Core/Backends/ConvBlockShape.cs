using LeNet.Kernels;

namespace LeNet.Core.Backends;

/// <summary>
/// Shape of a convolution block, Conv2d → BatchNorm2d → ReLU → MaxPool2d with a square window equal to its
/// stride. LeNet-5's first block is (64, 1, 32, 32, 6, 5, 5) with window 2.
/// </summary>
public readonly record struct ConvBlockShape(ConvShape Conv, int Pool)
{
    /// <summary>The pooling over the convolution's output [N, K, P, Q].</summary>
    public PoolShape Pooling => new(Conv.Batch, Conv.OutChannels, Conv.OutHeight, Conv.OutWidth, Pool, Pool);
    public BatchNormShape Norm => new(Conv.Batch, Conv.OutChannels, Conv.OutHeight * Conv.OutWidth);

    /// <summary>For messages (the hot path asks <see cref="ConvOutput"/>, which allocates no shape array).</summary>
    public int[] ConvOutputShape => [Conv.Batch, Conv.OutChannels, Conv.OutHeight, Conv.OutWidth];

    /// <summary>A workspace tensor [N, K, P, Q].</summary>
    internal Tensor ConvOutput(Device device) =>
        Workspace.Tensor(device, [Conv.Batch, Conv.OutChannels, Conv.OutHeight, Conv.OutWidth]);

    /// <summary>A workspace tensor of the block's output [N, K, P/w, Q/w].</summary>
    internal Tensor Output(Device device) =>
        Workspace.Tensor(device, [Conv.Batch, Conv.OutChannels, Pooling.OutHeight, Pooling.OutWidth]);
}
