namespace LeNet.Kernels;

/// <summary>
/// Shape of a 2-D pooling window over input [N, C, H, W] giving output [N, C, P, Q] with
/// P = (H − kernel) / stride + 1 (no padding, floor mode, as PyTorch's default).
/// </summary>
public readonly record struct PoolShape(int Batch, int Channels, int Height, int Width, int Kernel, int Stride)
{
    public int OutHeight => (Height - Kernel) / Stride + 1;
    public int OutWidth => (Width - Kernel) / Stride + 1;
    public int InputLength => Batch * Channels * Height * Width;
    public int OutputLength => Batch * Channels * OutHeight * OutWidth;
}
