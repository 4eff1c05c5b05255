using ScottPlot;
using SkiaSharp;

namespace LeNet.Train.Pictures;

/// <summary>
/// The pictures a run leaves in its output folder: loss and accuracy per epoch (PNG and SVG, ScottPlot), the
/// confusion matrix as a heat map (PNG and SVG), and a grid of misclassified test digits with their true and
/// predicted classes (PNG, SkiaSharp). Each file is written atomically.
/// </summary>
public static class TrainingPictures
{
    public const int CurveWidth = 800, CurveHeight = 500, ConfusionSize = 720;

    /// <summary>Writes every picture into <paramref name="folder"/>.</summary>
    public static void Draw(string folder, TrainingMetrics metrics, Evaluation evaluation, MnistDataset test)
    {
        var epochs = metrics.Epochs.Select(e => (double)e.Epoch).ToArray();
        Save(folder, "loss", Curve(epochs, metrics.Epochs.Select(e => e.MeanLoss).ToArray(),
            $"{metrics.Model}: mean training loss per epoch", "mean cross-entropy loss", Colors.C0), CurveWidth,
            CurveHeight);
        Save(folder, "accuracy", Curve(epochs, metrics.Epochs.Select(e => e.TestAccuracy ?? double.NaN).ToArray(),
            $"{metrics.Model}: test accuracy per epoch ({metrics.TestImages:N0} images)", "test accuracy (%)",
            Colors.C1), CurveWidth, CurveHeight);
        Save(folder, "confusion", Confusion(evaluation, metrics.Model), ConfusionSize, ConfusionSize);
        AtomicFile.Write(Path.Combine(folder, "misclassified.png"),
            stream => stream.Write(MisclassifiedGrid(evaluation, test)));
    }

    private static Plot Curve(double[] epochs, double[] values, string title, string label, Color color)
    {
        var plot = new Plot();
        var line = plot.Add.Scatter(epochs, values, color);
        line.LineWidth = 2;
        line.MarkerSize = 8;
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(label);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        if (epochs.Length == 1) plot.Axes.SetLimitsX(0, 2);
        return plot;
    }

    private static Plot Confusion(Evaluation evaluation, string model)
    {
        var classes = evaluation.ClassNames.Count;
        var counts = new double[classes, classes];
        for (var t = 0; t < classes; t++)
            for (var p = 0; p < classes; p++)
                counts[t, p] = evaluation.Confusion[t][p];
        var plot = new Plot();
        var map = plot.Add.Heatmap(counts);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        // The extent names the centres of the corner cells: cell (t, p) is centred on x = p, y = classes − 1 − t,
        // so the first true class is at the top, as in a table.
        map.Extent = new CoordinateRect(0, classes - 1, 0, classes - 1);
        plot.Add.ColorBar(map);
        var max = Math.Max(1, evaluation.Confusion.Max(r => r.Max()));
        for (var t = 0; t < classes; t++)
            for (var p = 0; p < classes; p++)
            {
                var count = evaluation.Confusion[t][p];
                var text = plot.Add.Text(count.ToString(CultureInfo.InvariantCulture), p, classes - 1 - t);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelFontColor = count > max / 2 ? Colors.Black : Colors.White;
            }
        var positions = Enumerable.Range(0, classes).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, evaluation.ClassNames.ToArray());
        plot.Axes.Left.SetTicks(positions, evaluation.ClassNames.Reverse().ToArray());
        plot.Title($"{model}: confusion matrix, accuracy " +
            $"{evaluation.Accuracy.ToString("F2", CultureInfo.InvariantCulture)} %");
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        plot.Axes.SetLimits(-0.5, classes - 0.5, -0.5, classes - 0.5);
        return plot;
    }

    private static void Save(string folder, string name, Plot plot, int width, int height)
    {
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.Write(Path.Combine(folder, name + ".png"), stream => stream.Write(bytes));
        AtomicFile.WriteAllText(Path.Combine(folder, name + ".svg"), plot.GetSvgXml(width, height));
    }

    /// <summary>The first misclassified test digits (up to 60), scaled ×3, "true → predicted" under each.</summary>
    public static byte[] MisclassifiedGrid(Evaluation evaluation, MnistDataset test, int maximum = 60)
    {
        const int scale = 3, columns = 10, labelHeight = 34, padding = 6, titleHeight = 36;
        var wrong = Enumerable.Range(0, evaluation.Count)
            .Where(i => evaluation.Labels[i] != evaluation.Predictions[i]).Take(maximum).ToArray();
        var side = test.ImageSize * scale;
        var nameWidth = evaluation.ClassNames.Max(n => n.Length);
        var cellWidth = Math.Max(side, 8 * nameWidth + 40) + padding;
        var cellHeight = side + labelHeight + padding;
        var rows = Math.Max(1, (wrong.Length + columns - 1) / columns);
        using var surface = SKSurface.Create(
            new SKImageInfo(columns * cellWidth + padding, titleHeight + rows * cellHeight + padding));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;
        using var font = new SKFont(typeface, 13);
        using var titleFont = new SKFont(typeface, 17);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var red = new SKPaint { Color = new SKColor(200, 30, 30), IsAntialias = true };
        canvas.DrawText(wrong.Length == 0 ? $"No misclassified digits among {evaluation.Count:N0} test images."
            : $"Misclassified test digits: {wrong.Length} shown of {evaluation.Count - evaluation.Correct:N0} " +
                "(true → predicted)", padding, 24, titleFont, ink);
        var pixels = new byte[side * side];
        for (var k = 0; k < wrong.Length; k++)
        {
            var index = wrong[k];
            var image = test.Images.AsSpan(index * test.ImageLength, test.ImageLength);
            // Back from the normalised input to ink on paper: dark strokes on white.
            for (var y = 0; y < side; y++)
                for (var x = 0; x < side; x++)
                {
                    var v = image[y / scale * test.ImageSize + x / scale] * MnistPreprocessing.TestStd +
                        MnistPreprocessing.TestMean;
                    pixels[y * side + x] = (byte)(255 - Math.Clamp((int)MathF.Round(v * 255), 0, 255));
                }
            using var bitmap = new SKBitmap(new SKImageInfo(side, side, SKColorType.Gray8, SKAlphaType.Opaque));
            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
            int left = padding + k % columns * cellWidth, top = titleHeight + k / columns * cellHeight;
            canvas.DrawBitmap(bitmap, left + (cellWidth - padding - side) / 2, top);
            var label = $"{evaluation.ClassNames[evaluation.Labels[index]]} → " +
                $"{evaluation.ClassNames[evaluation.Predictions[index]]}";
            canvas.DrawText(label, left + (cellWidth - padding) / 2f, top + side + 18, SKTextAlign.Center, font, red);
        }
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
