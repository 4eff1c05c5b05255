using LeNet.Kernels;

namespace LeNet.Core.Backends;

/// <summary>
/// Shape of a convolution block, Conv2d → BatchNorm2d → ReLU → MaxPool2d with a square window equal to its stride:
/// the convolution's shape and the pooling window. LeNet-5's first block is (64, 1, 32, 32, 6, 5, 5) with window 2.
/// </summary>
public readonly record struct ConvBlockShape(ConvShape Conv, int Pool)
{
    /// <summary>The pooling over the convolution's output [N, K, P, Q].</summary>
    public PoolShape Pooling => new(Conv.Batch, Conv.OutChannels, Conv.OutHeight, Conv.OutWidth, Pool, Pool);

    /// <summary>The batch normalisation over the convolution's output.</summary>
    public BatchNormShape Norm => new(Conv.Batch, Conv.OutChannels, Conv.OutHeight * Conv.OutWidth);

    public int[] ConvOutputShape => [Conv.Batch, Conv.OutChannels, Conv.OutHeight, Conv.OutWidth];

    public int[] OutputShape => [Conv.Batch, Conv.OutChannels, Pooling.OutHeight, Pooling.OutWidth];
}
