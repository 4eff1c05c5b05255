using System.Xml.Linq;
using LeNet.Mnist;
using LeNet.Train;
using LeNet.Train.Pictures;
using SkiaSharp;

namespace LeNet.Tests.Train;

/// <summary>
/// The pictures a training run leaves: each a PNG of its size with drawing on it and a well-formed SVG beside it; drawn
/// also from an invented run, in full and with most data missing; the misclassified digits by confidence.
/// </summary>
public class PictureTests
{
    [Theory]
    [InlineData("curves", TrainingPictures.CurveWidth, TrainingPictures.CurveHeight)]
    [InlineData("steps", TrainingPictures.StepWidth, TrainingPictures.StepHeight)]
    [InlineData("confusion", TrainingPictures.ConfusionWidth, TrainingPictures.ConfusionHeight)]
    public void Each_plot_of_a_run_is_a_png_of_its_size_with_drawing_on_it_and_an_svg_beside_it(string name, int width,
        int height) => AssertPicture(TrainedModel.Directory, name, width, height);

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
        AssertSvg(Path.Combine(TrainedModel.Directory, "misclassified.svg"), bitmap.Width, bitmap.Height);
    }

    [Theory]
    [InlineData(10, true, true)]
    [InlineData(1, false, false)] // one epoch, no validation, an old metrics file without steps, no confidences
    public void Every_picture_is_drawn_from_a_run_with_or_without_its_optional_data(int epochs, bool full,
        bool confidence)
    {
        using var folder = new TemporaryFolder();
        var test = FakeRun.Test();
        var metrics = FakeRun.Metrics(epochs, validation: full);
        if (!full) metrics = metrics with { Steps = [] };
        TrainingPictures.Draw(folder.Path, metrics, FakeRun.Evaluation(test, confidence), test);

        AssertPicture(folder.Path, "curves", TrainingPictures.CurveWidth, TrainingPictures.CurveHeight);
        AssertPicture(folder.Path, "steps", TrainingPictures.StepWidth, TrainingPictures.StepHeight,
            blankAllowed: !full); // no steps: a sentence on white
        AssertPicture(folder.Path, "confusion", TrainingPictures.ConfusionWidth, TrainingPictures.ConfusionHeight);
        using var grid = SKBitmap.Decode(Path.Combine(folder.Path, "misclassified.png"));
        AssertSvg(Path.Combine(folder.Path, "misclassified.svg"), grid.Width, grid.Height);
        Assert.Equal(TrainingPictures.Names.SelectMany(n => new[] { n + ".png", n + ".svg" }).Order(),
            Directory.GetFiles(folder.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Misclassified_digits_come_most_confident_first_and_in_file_order_without_confidences()
    {
        int[] labels = [0, 1, 2, 3, 4, 5];
        int[] predictions = [1, 1, 0, 0, 4, 0]; // wrong: 0, 2, 3, 5
        float[] confidence = [0.6f, 0.99f, 0.9f, 0.6f, 0.8f, 0.95f];
        var evaluation = new Evaluation(labels, predictions, ClassNamesFile.Digits, confidence, double.NaN);
        Assert.Equal([5, 2, 0, 3], MisclassifiedGrid.Order(evaluation, 60)); // ties keep file order
        Assert.Equal([5, 2], MisclassifiedGrid.Order(evaluation, 2));
        Assert.Equal([0, 2, 3, 5],
            MisclassifiedGrid.Order(new Evaluation(labels, predictions, ClassNamesFile.Digits), 60));
    }

    private static void AssertPicture(string folder, string name, int width, int height, bool blankAllowed = false)
    {
        using var bitmap = SKBitmap.Decode(Path.Combine(folder, name + ".png"));
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        if (!blankAllowed) AssertNotBlank(bitmap);
        AssertSvg(Path.Combine(folder, name + ".svg"), width, height);
    }

    // Well-formed XML, an <svg> root of the picture's size, with text in the pictures' font.
    private static void AssertSvg(string path, int width, int height)
    {
        var svg = XDocument.Load(path).Root!;
        Assert.Equal("svg", svg.Name.LocalName);
        Assert.Equal((width.ToString(), height.ToString()),
            ((string?)svg.Attribute("width"), (string?)svg.Attribute("height")));
        Assert.Contains(svg.Descendants(), e => e.Name.LocalName == "text" &&
            ((string?)e.Attribute("font-family"))?.Contains(TrainingPictures.FontName) == true);
        Assert.InRange(new FileInfo(path).Length, 2_000, 5_000_000);
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
