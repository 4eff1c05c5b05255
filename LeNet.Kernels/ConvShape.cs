namespace LeNet.Kernels;

/// <summary>
/// Shape of a 2-D convolution: input [N, C, H, W], weight [K, C, R, S], bias [K], output [N, K, P, Q]
/// with P = (H + 2·pad − R) / stride + 1 and Q likewise.
/// </summary>
public readonly record struct ConvShape(
    int Batch, int InChannels, int Height, int Width,
    int OutChannels, int KernelHeight, int KernelWidth,
    int Stride = 1, int Padding = 0)
{
    public int OutHeight => (Height + 2 * Padding - KernelHeight) / Stride + 1;
    public int OutWidth => (Width + 2 * Padding - KernelWidth) / Stride + 1;
    public int InputLength => Batch * InChannels * Height * Width;
    public int WeightLength => OutChannels * InChannels * KernelHeight * KernelWidth;
    public int OutputLength => Batch * OutChannels * OutHeight * OutWidth;
}
