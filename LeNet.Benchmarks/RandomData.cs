using LeNet.Core;

namespace LeNet.Benchmarks;

/// <summary>Random values, images in [−1, 1) and labels, so that the benchmarks need no dataset.</summary>
internal static class RandomData
{
    /// <summary>Uniform values in [min, max).</summary>
    public static float[] Values(Random random, int length, float min = -1, float max = 1)
    {
        var values = new float[length];
        for (var i = 0; i < length; i++) values[i] = min + (max - min) * (float)random.NextDouble();
        return values;
    }

    public static (Tensor Images, int[] Labels) Batch(Device device, int batch, int seed)
    {
        var random = new Random(seed);
        return (Tensor.FromArray(device, Values(random, batch * 32 * 32), batch, 1, 32, 32),
            Enumerable.Range(0, batch).Select(_ => random.Next(10)).ToArray());
    }
}
