using System.Runtime.InteropServices;
using SkiaSharp;

namespace LeNet.Train.Pictures;

/// <summary>
/// The misclassified test digits in rows of ten, scaled ×3, most confident wrong answer first (file order when the
/// evaluation has no confidences), each labelled "true → predicted" and the model's confidence in its answer.
/// </summary>
public sealed class MisclassifiedGrid
{
    public const int Columns = 10, Scale = 3, Padding = 6, TitleHeight = 36, LabelHeight = 40;

    private readonly Evaluation _evaluation;
    private readonly MnistDataset _test;
    private readonly int[] _shown;
    private readonly int _cellWidth, _cellHeight;

    public MisclassifiedGrid(Evaluation evaluation, MnistDataset test, int maximum = 60)
    {
        (_evaluation, _test) = (evaluation, test);
        _shown = Order(evaluation, maximum);
        var nameWidth = evaluation.ClassNames.Max(n => n.Length);
        _cellWidth = Math.Max(Side, 16 * nameWidth + 40) + Padding;
        _cellHeight = Side + LabelHeight + Padding;
        Width = Columns * _cellWidth + Padding;
        Height = TitleHeight + Math.Max(1, (_shown.Length + Columns - 1) / Columns) * _cellHeight + Padding;
    }

    public int Width { get; }
    public int Height { get; }
    private int Side => _test.ImageSize * Scale;

    /// <summary>
    /// The indices of the misclassified images, by the model's confidence in its wrong answer, highest first (ties and
    /// an evaluation without confidences in file order), at most <paramref name="maximum"/> of them.
    /// </summary>
    public static int[] Order(Evaluation evaluation, int maximum)
    {
        var wrong = Enumerable.Range(0, evaluation.Count).Where(i => evaluation.Labels[i] != evaluation.Predictions[i]);
        if (evaluation.Confidence.Length == evaluation.Count)
            wrong = wrong.OrderByDescending(i => evaluation.Confidence[i]);
        return wrong.Take(maximum).ToArray();
    }

    public void Draw(SKCanvas canvas)
    {
        using var typeface = ScottPlot.Fonts.GetTypeface(TrainingPictures.FontName, bold: false, italic: false);
        using var font = new SKFont(typeface, 13);
        using var titleFont = new SKFont(typeface, 17);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var red = new SKPaint { Color = new SKColor(200, 30, 30), IsAntialias = true };
        using var grey = new SKPaint { Color = new SKColor(90, 90, 90), IsAntialias = true };
        var wrongCount = _evaluation.Count - _evaluation.Correct;
        var order = _evaluation.Confidence.Length > 0 ? ", most confident first" : "";
        canvas.DrawText(_shown.Length == 0 ? $"No misclassified digits among {_evaluation.Count:N0} test images."
            : $"Misclassified test digits{order}: {_shown.Length} shown of {wrongCount:N0} (true → predicted)",
            Padding, 24, titleFont, ink);
        for (var k = 0; k < _shown.Length; k++)
        {
            var index = _shown[k];
            int left = Padding + k % Columns * _cellWidth, top = TitleHeight + k / Columns * _cellHeight;
            using var bitmap = Digit(index);
            canvas.DrawBitmap(bitmap, left + (_cellWidth - Padding - Side) / 2, top);
            var centre = left + (_cellWidth - Padding) / 2f;
            var label = $"{_evaluation.ClassNames[_evaluation.Labels[index]]} → " +
                $"{_evaluation.ClassNames[_evaluation.Predictions[index]]}";
            canvas.DrawText(label, centre, top + Side + 16, SKTextAlign.Center, font, red);
            if (_evaluation.Confidence.Length > 0)
                canvas.DrawText((100 * _evaluation.Confidence[index]).ToString("F1", CultureInfo.InvariantCulture) +
                    " %", centre, top + Side + 32, SKTextAlign.Center, font, grey);
        }
    }

    /// <summary>Back from the normalised input to ink on paper: dark strokes on white, scaled up.</summary>
    private SKBitmap Digit(int index)
    {
        var image = _test.Images.AsSpan(index * _test.ImageLength, _test.ImageLength);
        var pixels = new byte[Side * Side];
        for (var y = 0; y < Side; y++)
            for (var x = 0; x < Side; x++)
            {
                var v = image[y / Scale * _test.ImageSize + x / Scale] * MnistPreprocessing.TestStd +
                    MnistPreprocessing.TestMean;
                pixels[y * Side + x] = (byte)(255 - Math.Clamp((int)MathF.Round(v * 255), 0, 255));
            }
        var bitmap = new SKBitmap(new SKImageInfo(Side, Side, SKColorType.Gray8, SKAlphaType.Opaque));
        Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        return bitmap;
    }
}
