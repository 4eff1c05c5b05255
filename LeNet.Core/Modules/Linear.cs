using LeNet.Core.Functional;

namespace LeNet.Core.Modules;

/// <summary>Weight [out, in], bias [out]; PyTorch's default initialisation.</summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, Random random, bool bias = true)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new ArgumentException($"Linear needs positive feature counts, not ({inFeatures}, {outFeatures}).");
        Weight = RegisterParameter("weight", Tensor.Zeros(outFeatures, inFeatures));
        Init.KaimingUniform(Weight, inFeatures, random);
        if (bias)
        {
            Bias = RegisterParameter("bias", Tensor.Zeros(outFeatures));
            Init.BiasUniform(Bias, inFeatures, random);
        }
    }

    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor input) => F.Linear(input, Weight, Bias);
}
