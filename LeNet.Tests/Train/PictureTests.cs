using SkiaSharp;

namespace LeNet.Tests.Train;

/// <summary>The pictures a training run leaves: there, of the right size, and not blank.</summary>
public class PictureTests
{
    [Theory]
    [InlineData("loss.png", 800, 500)]
    [InlineData("accuracy.png", 800, 500)]
    [InlineData("confusion.png", 720, 720)]
    public void Each_plot_is_a_png_of_its_size_with_drawing_on_it_and_an_svg_beside_it(string name, int width, int height)
    {
        using var bitmap = SKBitmap.Decode(Path.Combine(TrainedModel.Directory, name));
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        AssertNotBlank(bitmap);
        var svg = File.ReadAllText(Path.Combine(TrainedModel.Directory, Path.ChangeExtension(name, ".svg")));
        Assert.Contains("<svg", svg);
        Assert.Contains("</svg>", svg);
    }

    [Fact]
    public void The_misclassified_grid_shows_digits_in_rows_of_ten()
    {
        using var bitmap = SKBitmap.Decode(Path.Combine(TrainedModel.Directory, "misclassified.png"));
        Assert.NotNull(bitmap);
        // Ten cells of at least 96 + 6 pixels per row, and at least one row under the title.
        Assert.True(bitmap.Width >= 10 * 102, $"width {bitmap.Width}");
        Assert.True(bitmap.Height >= 36 + 96, $"height {bitmap.Height}");
        AssertNotBlank(bitmap);
        // Digits are dark ink on white: a good share of the first cell's pixels are dark.
        var dark = 0;
        for (var y = 36; y < 36 + 96; y++)
            for (var x = 6; x < 6 + 102; x++)
                if (bitmap.GetPixel(x, y).Red < 100) dark++;
        Assert.InRange(dark, 200, 96 * 102 / 2);
    }

    private static void AssertNotBlank(SKBitmap bitmap)
    {
        var colours = new HashSet<SKColor>();
        var nonWhite = 0;
        for (var y = 0; y < bitmap.Height; y += 2)
            for (var x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                colours.Add(c);
                if (c.Red < 200 || c.Green < 200 || c.Blue < 200) nonWhite++;
            }
        Assert.True(colours.Count > 20, $"only {colours.Count} colours");
        Assert.True(nonWhite > bitmap.Width * bitmap.Height / 4 / 100, $"only {nonWhite} sampled pixels are not white");
    }
}
