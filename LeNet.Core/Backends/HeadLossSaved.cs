namespace LeNet.Core.Backends;

/// <summary>
/// What a classifier head's forward with its loss saves for the backward: the hidden layer (after the ReLU), and per
/// backend either the logits and the softmax (the parts in turn) or the fused kernel's scratch, the loss it wrote
/// (a fused backward relaunches the forward's kernel) and, when <see cref="InputGradWanted"/> (set by the operation
/// before the forward), ∂loss/∂input for a loss gradient of 1, computed in the forward and handed over in backward.
/// </summary>
public sealed class HeadLossSaved
{
    public Tensor Hidden { get; set; } = null!;
    public bool InputGradWanted { get; set; }
    public Tensor? Logits { get; set; }
    public Tensor? Probabilities { get; set; }
    public Tensor? Scratch { get; set; }
    public Tensor? Loss { get; set; }
    public Tensor? UnitInputGrad { get; set; }
}
