namespace LeNet.Core.Modules;

/// <summary>PyTorch's default initialisation of convolution and linear layers, drawn from a seeded generator.</summary>
public static class Init
{
    /// <summary>
    /// Kaiming-uniform with a = √5 (PyTorch's default for Conv and Linear weights): U(−b, b) with
    /// b = gain·√(3/fan_in), gain = √(2/(1 + a²)), which simplifies to b = 1/√fan_in.
    /// </summary>
    public static void KaimingUniform(Tensor weight, int fanIn, Random random)
    {
        var gain = Math.Sqrt(2.0 / (1 + 5.0));
        Uniform(weight, gain * Math.Sqrt(3.0 / fanIn), random);
    }

    /// <summary>U(−1/√fan_in, 1/√fan_in), PyTorch's default for Conv and Linear biases.</summary>
    public static void BiasUniform(Tensor bias, int fanIn, Random random) =>
        Uniform(bias, 1 / Math.Sqrt(fanIn), random);

    /// <summary>Fills with independent draws from U(−bound, bound).</summary>
    public static void Uniform(Tensor tensor, double bound, Random random)
    {
        var values = tensor.AsSpan();
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
    }
}
