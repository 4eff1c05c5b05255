using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>Augmentation (issue 20): the identity when nothing is drawn, exact geometry, a draw fixed by seed, epoch
/// and index.</summary>
public class MnistAugmentationTests
{
    private const int Size = 8;

    private static float[] Square()
    {
        var image = new float[Size * Size];
        Array.Fill(image, -1f);
        for (var y = 2; y < 5; y++)
            for (var x = 3; x < 6; x++) image[y * Size + x] = 2f;
        return image;
    }

    private static float[] Apply(MnistAugmentation augmentation, float[] image, int seed = 1, int epoch = 1,
        int index = 0)
    {
        var output = new float[image.Length];
        augmentation.Apply(image, output, Size, -1f, seed, epoch, index);
        return output;
    }

    [Fact]
    public void With_every_range_zero_the_image_is_unchanged() =>
        Assert.Equal(Square(), Apply(new MnistAugmentation(0, 0, 0, 0), Square()));

    [Fact]
    public void A_whole_pixel_shift_moves_the_image_and_fills_with_the_background()
    {
        var image = Square();
        var shifted = new float[image.Length];

        MnistAugmentation.Transform(image, shifted, Size, -1f, angle: 0, zoom: 1, dx: 1, dy: -2);

        for (var y = 0; y < Size; y++)
            for (var x = 0; x < Size; x++)
            {
                var (sx, sy) = (x - 1, y + 2);
                var expected = sx < 0 || sy >= Size ? -1f : image[sy * Size + sx];
                Assert.Equal(expected, shifted[y * Size + x]);
            }
    }

    [Fact]
    public void A_quarter_turn_takes_each_pixel_to_its_rotated_place()
    {
        var image = Enumerable.Range(0, Size * Size).Select(i => (float)i).ToArray();
        var rotated = new float[image.Length];

        MnistAugmentation.Transform(image, rotated, Size, -1f, angle: Math.PI / 2, zoom: 1, dx: 0, dy: 0);

        // Clockwise on screen: the top row becomes the right column.
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

        MnistAugmentation.Transform(image, zoomed, Size, -1f, angle: 0, zoom: 2, dx: 0, dy: 0);

        // Column x samples column 3.5 + (x − 3.5) / 2, bilinearly: the value is that position.
        for (var x = 0; x < Size; x++) Assert.Equal(3.5f + (x - 3.5f) / 2, zoomed[2 * Size + x], 1e-5f);
    }

    [Fact]
    public void The_draw_is_fixed_by_seed_epoch_and_index_alone()
    {
        var augmentation = new MnistAugmentation(15, 2, 0.1, 0.1);
        var image = Square();

        Assert.Equal(Apply(augmentation, image, 3, 2, 17), Apply(augmentation, image, 3, 2, 17));
        Assert.NotEqual(Apply(augmentation, image, 3, 2, 17), Apply(augmentation, image, 3, 3, 17));
        Assert.NotEqual(Apply(augmentation, image, 3, 2, 17), Apply(augmentation, image, 3, 2, 18));
        Assert.NotEqual(Apply(augmentation, image, 3, 2, 17), Apply(augmentation, image, 4, 2, 17));
    }

    [Fact]
    public void Noise_has_the_asked_spread()
    {
        var flat = new float[Size * Size];
        var noisy = Enumerable.Range(0, 200).SelectMany(i => Apply(new MnistAugmentation(0, 0, 0, 0.5), flat, index: i))
            .ToArray();
        var mean = noisy.Average();
        var std = Math.Sqrt(noisy.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(std, 0.47, 0.53);
    }
}
