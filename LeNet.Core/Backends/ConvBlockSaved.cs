namespace LeNet.Core.Backends;

/// <summary>
/// What a convolution block's forward in training saves for its backward. Argmax holds flat indices into ConvOutput
/// [N, K, P, Q]; Pooled is the block's output [N, K, P/w, Q/w]; Activated, ReLU(BatchNorm2d(conv)) [N, K, P, Q], is
/// set only by a backend that runs the parts in turn.
/// </summary>
public sealed class ConvBlockSaved
{
    public Tensor ConvOutput { get; set; } = null!;
    public Tensor Mean { get; set; } = null!;
    public Tensor InvStd { get; set; } = null!;
    public Indices Argmax { get; set; }
    public Tensor Pooled { get; set; } = null!;
    public Tensor? Activated { get; set; }
}
