namespace LeNet.Core.Backends;

/// <summary>
/// What a classifier head's forward with its loss saves for the backward: the hidden layer (after the ReLU), and
/// per backend either the logits and the softmax (the parts in turn) or the fused kernel's scratch and, when the
/// input wants a gradient, the input's gradient for a loss gradient of 1 (computed in the forward).
/// </summary>
public sealed class HeadLossSaved
{
    public Tensor Hidden { get; set; } = null!;

    /// <summary>Whether the head's input requires a gradient (set by the operation before the forward).</summary>
    public bool InputGradWanted { get; set; }

    public Tensor? Logits { get; set; }
    public Tensor? Probabilities { get; set; }
    public Tensor? Scratch { get; set; }

    /// <summary>The loss the forward wrote (where a fused backward relaunches the forward's kernel).</summary>
    public Tensor? Loss { get; set; }

    /// <summary>
    /// ∂loss/∂input for a loss gradient of 1, where the forward computed it (handed over in backward).
    /// </summary>
    public Tensor? UnitInputGrad { get; set; }
}
