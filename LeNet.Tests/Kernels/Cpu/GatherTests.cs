using CpuKernels = LeNet.Kernels.Cpu;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>The batch copy: chosen rows in order, across parts, and indices outside the source refused.</summary>
public class GatherTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]     // less than one part
    [InlineData(64, 1024)] // a batch of 32×32 images: eight parts
    [InlineData(61, 17)]   // a last part that is not full
    public void Copies_the_chosen_rows_in_order(int count, int rowLength)
    {
        var rng = new Random(10_900 + count);
        const int sourceRows = 100;
        var source = Enumerable.Range(0, sourceRows * rowLength).Select(_ => (float)rng.NextDouble()).ToArray();
        var rows = Enumerable.Range(0, count).Select(_ => rng.Next(sourceRows)).ToArray();
        var target = Enumerable.Repeat(float.NaN, count * rowLength).ToArray();

        CpuKernels.Gather.Rows(source, rows, target, rowLength);

        for (int k = 0; k < count; k++)
            Assert.Equal(source.AsSpan(rows[k] * rowLength, rowLength).ToArray(),
                target.AsSpan(k * rowLength, rowLength).ToArray());
    }

    [Fact]
    public void Rows_outside_the_source_and_a_wrong_target_length_are_refused()
    {
        var source = new float[12]; // three rows of 4
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernels.Gather.Rows(source, [0, 3], new float[8], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernels.Gather.Rows(source, [-1], new float[4], 4));
        Assert.Throws<ArgumentException>(() => CpuKernels.Gather.Rows(source, [0, 1], new float[7], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernels.Gather.Rows(source, [0], new float[0], 0));
    }
}
