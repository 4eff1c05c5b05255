namespace LeNet.Core.Modules;

/// <summary>PyTorch's default initialisation of convolution and linear layers.</summary>
public static class Init
{
    /// <summary>
    /// Kaiming-uniform with a = √5, the weights' default: U(−b, b), b = gain·√(3/fan_in), gain = √(2/(1 + a²)),
    /// which simplifies to b = 1/√fan_in.
    /// </summary>
    public static void KaimingUniform(Tensor weight, int fanIn, Random random) =>
        Uniform(weight, Math.Sqrt(2.0 / (1 + 5.0)) * Math.Sqrt(3.0 / fanIn), random);

    /// <summary>U(−1/√fan_in, 1/√fan_in), the biases' default.</summary>
    public static void BiasUniform(Tensor bias, int fanIn, Random random) =>
        Uniform(bias, 1 / Math.Sqrt(fanIn), random);

    public static void Uniform(Tensor tensor, double bound, Random random)
    {
        var values = tensor.AsSpan();
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
    }
}
