using ScottPlot;
using SkiaSharp;

namespace LeNet.Train.Pictures;

/// <summary>
/// The pictures a run leaves in its output folder, each as PNG and SVG, written atomically, in one font: the loss and
/// accuracy per epoch (curves), the loss per logged step with the learning rate (steps), the confusion matrix read by
/// rows (confusion), and the misclassified test digits, most confident first (misclassified).
/// </summary>
public static class TrainingPictures
{
    public const int CurveWidth = 900, CurveHeight = 760, StepWidth = 900, StepHeight = 460, ConfusionWidth = 800,
        ConfusionHeight = 760;

    /// <summary>The pictures' names; each is written as NAME.png and NAME.svg.</summary>
    public static readonly string[] Names = ["curves", "steps", "confusion", "misclassified"];

    /// <summary>
    /// The first sans-serif family installed of DejaVu Sans (most Linux), Segoe UI (Windows), Helvetica (macOS), Arial
    /// and Liberation Sans, else ScottPlot's default; set on every plot and used for the digit grid, so that all
    /// pictures read alike. (ScottPlot's own choice for "sans" can be a serif font on Linux.)
    /// </summary>
    public static string FontName => InstalledFont.Value;

    private static readonly Lazy<string> InstalledFont = new(() =>
        new[] { "DejaVu Sans", "Segoe UI", "Helvetica", "Arial", "Liberation Sans" }.FirstOrDefault(name =>
        {
            using var typeface = SKFontManager.Default.MatchFamily(name);
            return typeface?.FamilyName == name;
        }) ?? Fonts.Default);

    /// <summary>Writes every picture into <paramref name="folder"/>.</summary>
    public static void Draw(string folder, TrainingMetrics metrics, Evaluation evaluation, MnistDataset test)
    {
        Save(folder, "curves", CurveWidth, CurveHeight, canvas => DrawCurves(canvas, metrics));
        Save(folder, "steps", StepWidth, StepHeight, canvas => StepPlot(metrics).Render(canvas, StepWidth, StepHeight));
        Save(folder, "confusion", ConfusionWidth, ConfusionHeight,
            canvas => ConfusionPlot(evaluation, metrics.Model).Render(canvas, ConfusionWidth, ConfusionHeight));
        var grid = new MisclassifiedGrid(evaluation, test);
        Save(folder, "misclassified", grid.Width, grid.Height, grid.Draw);
    }

    /// <summary>Draws onto a PNG surface and an SVG canvas of the same size; each file is written atomically.</summary>
    public static void Save(string folder, string name, int width, int height, Action<SKCanvas> draw)
    {
        using (var surface = SKSurface.Create(new SKImageInfo(width, height)))
        {
            surface.Canvas.Clear(SKColors.White);
            draw(surface.Canvas);
            using var image = surface.Snapshot();
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            AtomicFile.Write(Path.Combine(folder, name + ".png"), png.SaveTo);
        }
        var svg = new MemoryStream();
        // The SVG canvas writes its closing tag when disposed, before the bytes are copied out.
        using (var canvas = SKSvgCanvas.Create(SKRect.Create(width, height), svg))
        {
            canvas.Clear(SKColors.White);
            draw(canvas);
        }
        AtomicFile.Write(Path.Combine(folder, name + ".svg"), stream => svg.WriteTo(stream));
    }

    /// <summary>Two panels over the same epochs: the losses (log scale) above, the accuracies below.</summary>
    private static void DrawCurves(SKCanvas canvas, TrainingMetrics metrics)
    {
        var epochs = metrics.Epochs;
        var loss = NewPlot($"{metrics.Model}: loss and accuracy per epoch", "mean cross-entropy (log scale)");
        AddSeries(loss, epochs, e => e.MeanLoss, "training", Colors.C0, log: true);
        AddSeries(loss, epochs, e => e.ValidationLoss, "validation", Colors.C1, log: true);
        LogTicks(loss, epochs.Select(e => e.MeanLoss).Concat(epochs.Select(e => e.ValidationLoss ?? double.NaN)));
        var accuracy = NewPlot("", "accuracy (%)");
        accuracy.XLabel("epoch");
        AddSeries(accuracy, epochs, e => e.TrainAccuracy, "training", Colors.C0, log: false);
        AddSeries(accuracy, epochs, e => e.ValidationAccuracy, "validation", Colors.C1, log: false);
        AddSeries(accuracy, epochs, e => e.TestAccuracy, $"test ({metrics.TestImages:N0} images)", Colors.C2,
            log: false);
        foreach (var panel in new[] { loss, accuracy })
        {
            // The same frame in both panels, so that an epoch sits at the same x above and below.
            panel.Layout.Fixed(new PixelPadding(80, 30, panel == accuracy ? 50 : 20, 40));
            panel.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            panel.Axes.SetLimitsX(0.5, Math.Max(1, epochs.Count == 0 ? 1 : epochs.Max(e => e.Epoch)) + 0.5);
            if (metrics.BestEpoch is { } best)
            {
                // Named in the legend: a label on the axis would cover the title above or the epoch's tick below.
                // Best by what EarlyStopping monitors, which is not the test accuracy drawn beside it.
                var line = panel.Add.VerticalLine(best, 1.5f, Colors.Black.WithAlpha(0.6), LinePattern.Dashed);
                line.LegendText = epochs.Any(e => e.ValidationAccuracy is not null)
                    ? $"best validation accuracy: epoch {best}" : $"lowest training loss: epoch {best}";
            }
            panel.ShowLegend(Alignment.UpperRight);
        }
        // The legend sits where the curves are not: losses fall to the lower right, accuracies rise to the upper right.
        accuracy.Legend.Alignment = Alignment.LowerRight;
        const int top = 380;
        RenderInside(canvas, loss, new PixelRect(0, CurveWidth, top, 0));
        RenderInside(canvas, accuracy, new PixelRect(0, CurveWidth, CurveHeight, top));
    }

    // A plot paints its background over the whole canvas: clipped to its own rectangle, it leaves the others be.
    private static void RenderInside(SKCanvas canvas, Plot plot, PixelRect rect)
    {
        canvas.Save();
        canvas.ClipRect(new SKRect(rect.Left, rect.Top, rect.Right, rect.Bottom));
        plot.Render(canvas, rect);
        canvas.Restore();
    }

    /// <summary>The mean loss of each logged interval (log scale) and, on the right axis, the learning rate.</summary>
    private static Plot StepPlot(TrainingMetrics metrics)
    {
        var plot = NewPlot($"{metrics.Model}: training loss per logged step", "mean cross-entropy (log scale)");
        plot.XLabel("step");
        var steps = metrics.Steps;
        if (steps.Count == 0)
        {
            // A metrics file from before steps were recorded: say so rather than draw empty axes.
            var note = plot.Add.Text("This run's metrics hold no per-step losses.", 0.5, 0.5);
            note.LabelAlignment = Alignment.MiddleCenter;
            note.LabelFontSize = 16;
            plot.Axes.SetLimits(0, 1, 0, 1);
            plot.Axes.Left.SetTicks([], []);
            plot.Axes.Bottom.SetTicks([], []);
            return plot;
        }
        var x = steps.Select(s => (double)s.Step).ToArray();
        var loss = plot.Add.ScatterLine(x, steps.Select(s => Math.Log10(s.Loss)).ToArray(), Colors.C0.WithAlpha(0.35));
        loss.LegendText = "loss";
        // An exponential moving average shows the trend through the noise of single intervals.
        var smoothed = new double[steps.Count];
        var alpha = 2.0 / (1 + Math.Max(1, steps.Count / 40));
        for (var i = 0; i < steps.Count; i++)
            smoothed[i] = i == 0 ? steps[0].Loss : alpha * steps[i].Loss + (1 - alpha) * smoothed[i - 1];
        var trend = plot.Add.ScatterLine(x, smoothed.Select(Math.Log10).ToArray(), Colors.C0);
        trend.LineWidth = 2;
        trend.LegendText = "loss, moving average";
        LogTicks(plot, steps.Select(s => s.Loss));
        var rate = plot.Add.ScatterLine(x, steps.Select(s => s.LearningRate).ToArray(), Colors.C3);
        rate.LineWidth = 2;
        rate.LegendText = "learning rate (right axis)";
        rate.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = "learning rate";
        plot.Axes.Right.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => v.ToString("G3", CultureInfo.InvariantCulture),
        };
        var highest = steps.Max(s => s.LearningRate);
        // Headroom keeps a constant rate's line under the legend.
        plot.Axes.SetLimitsY(0, highest > 0 ? highest * 1.35 : 1, plot.Axes.Right);
        if (steps.Count == 1) plot.Axes.SetLimitsX(x[0] - 1, x[0] + 1);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>
    /// Each row normalised to its true class: off the diagonal, the colour is the share of the row's images predicted
    /// as the column (the darkest cell being the largest such share); the diagonal is masked in grey so that the
    /// errors are not washed out by it. Counts are printed in the cells and recall per class in the right margin.
    /// </summary>
    private static Plot ConfusionPlot(Evaluation evaluation, string model)
    {
        var classes = evaluation.ClassNames.Count;
        var share = new double[classes, classes];
        var largest = 0.0;
        for (var t = 0; t < classes; t++)
            for (var p = 0; p < classes; p++)
            {
                var images = evaluation.Support[t];
                share[t, p] = images == 0 ? 0 : (double)evaluation.Confusion[t][p] / images;
                if (t != p) largest = Math.Max(largest, share[t, p]);
            }
        var plot = NewPlot($"{model}: confusion matrix, accuracy " +
            $"{evaluation.Accuracy.ToString("F2", CultureInfo.InvariantCulture)} % of {evaluation.Count:N0}",
            "true class");
        plot.XLabel("predicted class (colour: share of the true class's images; diagonal in grey)");
        for (var t = 0; t < classes; t++)
        {
            var y = classes - 1 - t; // the first true class at the top, as in a table
            for (var p = 0; p < classes; p++)
            {
                var strength = t == p || largest == 0 ? 0 : share[t, p] / largest;
                var cell = plot.Add.Rectangle(p - 0.5, p + 0.5, y - 0.5, y + 0.5);
                cell.FillColor = t == p ? new Color(215, 215, 215) : Blend(strength);
                cell.LineColor = new Color(235, 235, 235); // the grid of empty cells stays visible
                cell.LineWidth = 1;
                var count = evaluation.Confusion[t][p];
                if (count == 0) continue;
                var text = plot.Add.Text(count.ToString("N0", CultureInfo.InvariantCulture), p, y);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelBold = t == p;
                text.LabelFontColor = strength > 0.55 ? Colors.White : Colors.Black;
            }
            var recall = evaluation.Recall[t] is { } r
                ? (100 * r).ToString("F1", CultureInfo.InvariantCulture) + " %" : "–";
            var margin = plot.Add.Text(recall, classes - 0.3, y);
            margin.LabelAlignment = Alignment.MiddleLeft;
            margin.LabelFontSize = 13;
        }
        var header = plot.Add.Text("recall", classes - 0.3, classes - 0.45);
        header.LabelAlignment = Alignment.LowerLeft;
        header.LabelFontSize = 13;
        header.LabelBold = true;
        var positions = Enumerable.Range(0, classes).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, evaluation.ClassNames.ToArray());
        plot.Axes.Left.SetTicks(positions, evaluation.ClassNames.Reverse().ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickLabelStyle.FontSize = plot.Axes.Left.TickLabelStyle.FontSize = 14;
        plot.Grid.IsVisible = false;
        plot.Axes.SetLimits(-0.5, classes + 1.1, -0.5, classes + 0.1);
        plot.Axes.Frame(false);
        return plot;

        // White for no error, deepening to a dark red for the largest share off the diagonal.
        static Color Blend(double strength) => new((byte)(255 - 75 * strength), (byte)(255 - 235 * strength),
            (byte)(255 - 225 * strength));
    }

    /// <summary>A plot in the pictures' font, with its title and left axis label.</summary>
    private static Plot NewPlot(string title, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        if (title.Length > 0) plot.Title(title);
        plot.YLabel(yLabel);
        return plot;
    }

    /// <summary>One line with markers over the epochs that have a value; nothing when none has.</summary>
    private static void AddSeries(Plot plot, List<EpochMetrics> epochs, Func<EpochMetrics, double?> value,
        string name, Color color, bool log)
    {
        var points = epochs.Where(e => value(e) is { } v && double.IsFinite(v) && (!log || v > 0))
            .Select(e => (X: (double)e.Epoch, Y: value(e)!.Value)).ToArray();
        if (points.Length == 0) return;
        var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(),
            points.Select(p => log ? Math.Log10(p.Y) : p.Y).ToArray(), color);
        line.LineWidth = 2;
        line.MarkerSize = 7;
        line.LegendText = name;
    }

    /// <summary>
    /// Ticks for values plotted as log10: 1, 2 and 5 of each decade the values span (every digit when they span less
    /// than half a decade), labelled with the values themselves.
    /// </summary>
    private static void LogTicks(Plot plot, IEnumerable<double> values)
    {
        var logs = values.Where(v => double.IsFinite(v) && v > 0).Select(Math.Log10).ToArray();
        if (logs.Length == 0) return;
        double low = logs.Min(), high = logs.Max();
        var pad = Math.Max(0.05, (high - low) * 0.05);
        // At least half a decade (a factor of 3), which holds two ticks among the digits, even for a single value.
        pad = Math.Max(pad, (0.5 - (high - low)) / 2);
        (low, high) = (low - pad, high + pad);
        int[] digits = high - low < 0.5 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [1, 2, 5];
        var ticks = new List<double>();
        for (var decade = (int)Math.Floor(low); decade <= (int)Math.Ceiling(high); decade++)
            foreach (var digit in digits)
            {
                var at = Math.Log10(digit) + decade;
                if (at >= low && at <= high) ticks.Add(at);
            }
        plot.Axes.Left.SetTicks(ticks.ToArray(),
            ticks.Select(t => Math.Pow(10, t).ToString("G2", CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.SetLimitsY(low, high, plot.Axes.Left);
    }
}
