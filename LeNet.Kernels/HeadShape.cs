namespace LeNet.Kernels;

/// <summary>
/// Shape of a classifier head fused with its loss: Linear In → Hidden, ReLU, Linear Hidden → Classes, softmax
/// cross-entropy against integer labels, over a batch: input [N, In], first weight [Hidden, In], second weight
/// [Classes, Hidden]. LeNet-5's fc1 → relu1 → fc2 → CrossEntropyLoss is (N, 120, 84, 10).
/// </summary>
public readonly record struct HeadShape(int Batch, int InFeatures, int Hidden, int Classes)
{
    public LinearShape First => new(Batch, InFeatures, Hidden);
    public LinearShape Second => new(Batch, Hidden, Classes);
    public int InputLength => Batch * InFeatures;
    public int HiddenLength => Batch * Hidden;

    /// <summary>
    /// Floats of the head's scratch: per row the logits' gradient (Classes) and the hidden layer's (Hidden) side by
    /// side, then the N per-row losses.
    /// </summary>
    public int ScratchLength => Batch * (Classes + Hidden) + Batch;
}
