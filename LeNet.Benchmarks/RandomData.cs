using LeNet.Core;

namespace LeNet.Benchmarks;

/// <summary>Random images in [−1, 1) and labels, so that the benchmarks need no dataset.</summary>
internal static class RandomData
{
    public static float[] Values(Random random, int length)
    {
        var values = new float[length];
        for (var i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    public static (Tensor Images, int[] Labels) Batch(Device device, int batch, int seed)
    {
        var random = new Random(seed);
        return (Tensor.FromArray(device, Values(random, batch * 32 * 32), batch, 1, 32, 32),
            Enumerable.Range(0, batch).Select(_ => random.Next(10)).ToArray());
    }
}
