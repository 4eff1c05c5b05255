namespace LeNet.Core.Backends;

/// <summary>
/// What a convolution block's forward in training saves for its backward: the convolution's output, the batch
/// statistics, the pooling's argmax (flat indices into the convolution's output), and, where a backend composes the
/// block from its parts, the rectified activations.
/// </summary>
public sealed class ConvBlockSaved
{
    public Tensor ConvOutput { get; set; } = null!;
    public Tensor Mean { get; set; } = null!;
    public Tensor InvStd { get; set; } = null!;
    public Indices Argmax { get; set; }

    /// <summary>The block's output [N, K, P/w, Q/w].</summary>
    public Tensor Pooled { get; set; } = null!;

    /// <summary>
    /// ReLU(BatchNorm2d(conv)) [N, K, P, Q]: set by a backend that runs the parts in turn, else null.
    /// </summary>
    public Tensor? Activated { get; set; }
}
