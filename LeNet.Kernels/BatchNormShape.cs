namespace LeNet.Kernels;

/// <summary>Shape of a per-channel normalisation over [N, C, Spatial] (Spatial = H·W for BatchNorm2d).</summary>
public readonly record struct BatchNormShape(int Batch, int Channels, int Spatial)
{
    public int Length => Batch * Channels * Spatial;
    /// <summary>Number of values each channel's statistics are taken over: N·H·W.</summary>
    public int CountPerChannel => Batch * Spatial;
}
