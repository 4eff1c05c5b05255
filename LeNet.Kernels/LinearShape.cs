namespace LeNet.Kernels;

/// <summary>Shape of a fully connected layer: input [N, In], weight [Out, In], bias [Out], output [N, Out].</summary>
public readonly record struct LinearShape(int Batch, int InFeatures, int OutFeatures)
{
    public int InputLength => Batch * InFeatures;
    public int WeightLength => OutFeatures * InFeatures;
    public int OutputLength => Batch * OutFeatures;
}
