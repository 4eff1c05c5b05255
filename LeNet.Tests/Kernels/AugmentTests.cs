using LeNet.Kernels;
using LeNet.Tests.Kernels.Cpu;
using Fast = LeNet.Kernels.Cpu;
using Reference = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels;

/// <summary>
/// Augmentation (issue 20): the Reference transform's exact geometry, a draw fixed by seed, epoch and index and within
/// its ranges, and the SIMD kernel equal to Reference bit for bit (the same float operations in the same order, lane by
/// lane) at every width this machine can force and on one thread or two. Changes the thread count, so runs alone.
/// </summary>
[Collection(nameof(WorkerThreadCountCollection))]
public class AugmentTests
{
    private const int Size = 8;
    private const float Blank = -1f;

    private static float[] Square()
    {
        var image = new float[Size * Size];
        Array.Fill(image, Blank);
        for (var y = 2; y < 5; y++)
            for (var x = 3; x < 6; x++) image[y * Size + x] = 2f;
        return image;
    }

    private static float[] Apply(Augmentation augmentation, float[] images, int[] indices, int size, int seed = 1,
        int epoch = 1)
    {
        var batch = new float[indices.Length * size * size];
        Reference.Augment.Apply(images, indices, batch, size, augmentation, seed, epoch);
        return batch;
    }

    private static float[] ApplyOne(Augmentation augmentation, float[] image, int seed = 1, int epoch = 1,
        int index = 0)
    {
        // Image `index` of a set whose other images are blank: the draw is the index's, the pixels the image's.
        var images = new float[(index + 1) * image.Length];
        Array.Fill(images, Blank);
        image.CopyTo(images, index * image.Length);
        return Apply(augmentation, images, [index], Size, seed, epoch);
    }

    [Fact]
    public void With_every_range_zero_the_image_is_unchanged() =>
        Assert.Equal(Square(), ApplyOne(new Augmentation(Blank, 0, 0, 0, 0), Square()));

    [Fact]
    public void A_whole_pixel_shift_moves_the_image_and_fills_with_the_background()
    {
        var image = Square();
        foreach (var (dx, dy) in new[] { (1, 0), (0, 1), (1, -2) })
        {
            var shifted = new float[image.Length];
            Reference.Augment.Transform(image, shifted, Size, Blank, angle: 0, zoom: 1, dx: dx, dy: dy);
            for (var y = 0; y < Size; y++)
                for (var x = 0; x < Size; x++)
                {
                    var (sx, sy) = (x - dx, y - dy);
                    var expected = sx < 0 || sy < 0 || sx >= Size || sy >= Size ? Blank : image[sy * Size + sx];
                    Assert.Equal(expected, shifted[y * Size + x]);
                }
        }
    }

    [Fact]
    public void A_quarter_turn_takes_each_pixel_to_its_rotated_place()
    {
        var image = Enumerable.Range(0, Size * Size).Select(i => (float)i).ToArray();
        var rotated = new float[image.Length];

        Reference.Augment.Transform(image, rotated, Size, Blank, angle: MathF.PI / 2, zoom: 1, dx: 0, dy: 0);

        // Clockwise on screen: the top row becomes the right column. cos(π/2) in float is 4e-8, not 0.
        for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
                Assert.Equal(image[(Size - 1 - x) * Size + y], rotated[y * Size + x], 1e-4f);
        Assert.Equal(image[0], rotated[Size - 1], 1e-4f);
    }

    [Fact]
    public void A_zoom_of_two_magnifies_about_the_centre()
    {
        var image = Enumerable.Range(0, Size * Size).Select(i => (float)(i % Size)).ToArray(); // value = column
        var zoomed = new float[image.Length];

        Reference.Augment.Transform(image, zoomed, Size, Blank, angle: 0, zoom: 2, dx: 0, dy: 0);

        // Column x samples column 3.5 + (x − 3.5) / 2, bilinearly: the value is that position (a few float roundings).
        for (var x = 0; x < Size; x++) Assert.Equal(3.5f + (x - 3.5f) / 2, zoomed[2 * Size + x], 1e-5f);
    }

    [Fact]
    public void The_draw_is_fixed_by_seed_epoch_and_index_alone()
    {
        var augmentation = new Augmentation(Blank, 15, 2, 0.1f, 0.1f);
        var image = Square();

        Assert.Equal(ApplyOne(augmentation, image, 3, 2, 17), ApplyOne(augmentation, image, 3, 2, 17));
        Assert.NotEqual(ApplyOne(augmentation, image, 3, 2, 17), ApplyOne(augmentation, image, 3, 3, 17));
        Assert.NotEqual(ApplyOne(augmentation, image, 3, 2, 17), ApplyOne(augmentation, image, 3, 2, 18));
        Assert.NotEqual(ApplyOne(augmentation, image, 3, 2, 17), ApplyOne(augmentation, image, 4, 2, 17));
    }

    [Fact]
    public void An_image_is_distorted_the_same_wherever_it_sits_in_the_batch()
    {
        var (images, _, _) = RandomSet(new Random(7), 5, Size);
        var augmentation = new Augmentation(Blank, 20, 3, 0.2f, 0.1f);
        var batch = Apply(augmentation, images, [4, 1, 3], Size, seed: 9, epoch: 2);
        var alone = Apply(augmentation, images, [1], Size, seed: 9, epoch: 2);
        Assert.Equal(alone, batch.AsSpan(Size * Size, Size * Size).ToArray());
    }

    [Fact]
    public void The_draws_are_uniform_and_the_transforms_within_their_ranges()
    {
        var augmentation = new Augmentation(Blank, 10, 2, 0.1f);
        var uniforms = new List<float>();
        for (var index = 0; index < 2000; index++)
        {
            for (var draw = 0; draw < 6; draw++) uniforms.Add(Augmentation.Uniform(5, 3, index, draw));
            var transform = augmentation.Draw(5, 3, index);
            double zoom = 1 / Math.Sqrt(transform.Cos * (double)transform.Cos + transform.Sin * (double)transform.Sin);
            double degrees = Math.Atan2(transform.Sin, transform.Cos) * 180 / Math.PI;
            Assert.InRange(zoom, 0.9 - 1e-6, 1.1 + 1e-6);
            Assert.InRange(degrees, -10 - 1e-4, 10 + 1e-4);
            Assert.InRange(transform.Dx, -2f, 2f);
            Assert.InRange(transform.Dy, -2f, 2f);
        }
        Assert.All(uniforms, u => Assert.InRange(u, 0f, 0.99999995f));
        // 12,000 uniform draws: mean 0.5 ± 0.008 (3 σ), and every tenth of [0, 1) about equally filled.
        Assert.InRange(uniforms.Average(), 0.492, 0.508);
        var tenths = uniforms.GroupBy(u => (int)(u * 10)).Select(g => g.Count()).ToArray();
        Assert.Equal(10, tenths.Length);
        Assert.All(tenths, n => Assert.InRange(n, 1080, 1320));
    }

    [Fact]
    public void Noise_has_the_asked_spread()
    {
        var flat = new float[200 * Size * Size];
        var noisy = Apply(new Augmentation(0, 0, 0, 0, 0.5f), flat, Enumerable.Range(0, 200).ToArray(), Size);
        var mean = noisy.Average();
        var std = Math.Sqrt(noisy.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(std, 0.47, 0.53);
    }

    [Fact]
    public void Impossible_ranges_and_batches_are_refused()
    {
        var images = new float[2 * Size * Size];
        var batch = new float[Size * Size];
        foreach (var bad in new[]
                 {
                     new Augmentation(float.NaN), new Augmentation(0, Degrees: 181), new Augmentation(0, Shift: -1),
                     new Augmentation(0, Scale: 1), new Augmentation(0, Noise: float.PositiveInfinity),
                 })
            Assert.Throws<ArgumentOutOfRangeException>(() =>
                Reference.Augment.Apply(images, [0], batch, Size, bad, 1, 1));
        var fine = new Augmentation(Blank);
        Assert.Throws<ArgumentOutOfRangeException>(() => Fast.Augment.Apply(images, [2], batch, Size, fine, 1, 1));
        Assert.Throws<ArgumentException>(() => Fast.Augment.Apply(images, [0, 1], batch, Size, fine, 1, 1));
    }

    /// <summary>Random images in [−0.5, 2.8] (MNIST's normalised range), labels and a shuffled order.</summary>
    internal static (float[] Images, int[] Labels, int[] Order) RandomSet(Random random, int count, int size)
    {
        var images = GradientCheck.Uniform(random, count * size * size, -0.5, 2.8).Select(v => (float)v).ToArray();
        var labels = Enumerable.Range(0, count).Select(_ => random.Next(10)).ToArray();
        return (images, labels, Enumerable.Range(0, count).OrderBy(_ => random.Next()).ToArray());
    }

    /// <summary>Wide ranges, so that corners fall far outside the image, and noise.</summary>
    internal static readonly Augmentation Wide = new(-0.4242f, Degrees: 40, Shift: 6, Scale: 0.3f, Noise: 0.2f);

    public static TheoryData<int, int, int> WidthsThreadsSizes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var width in ElementwiseTestSupport.Widths)
            foreach (var threads in new[] { 1, 2 })
                foreach (var size in new[] { 32, 13, 3 }) // whole vectors, an overlapping last vector, none
                    data.Add(width, threads, size);
        return data;
    }

    [Theory]
    [MemberData(nameof(WidthsThreadsSizes))]
    public void The_SIMD_kernel_equals_Reference_bit_for_bit(int width, int threads, int size)
    {
        var (images, _, order) = RandomSet(new Random(size), 23, size);
        var indices = order[..19];
        foreach (var augmentation in new[] { Wide, new Augmentation(-0.4242f) })
        {
            var expected = Apply(augmentation, images, indices, size, seed: 11, epoch: 4);
            var actual = new float[expected.Length];
            Array.Fill(actual, float.NaN); // every value must be written
            ElementwiseTestSupport.WithThreads(threads, () => ElementwiseTestSupport.AtWidth(width, () =>
                Fast.Augment.Apply(images, indices, actual, size, augmentation, 11, 4)));
            Assert.Equal(expected, actual);
        }
    }
}
