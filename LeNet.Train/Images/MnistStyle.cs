using System.Numerics;

namespace LeNet.Train.Images;

/// <summary>
/// Turns a photo or drawing of one digit into an MNIST image, as MNIST's digits were made: white ink on black, the
/// digit's bounding box fitted into 20×20 keeping its aspect ratio with area-averaging (anti-aliased) resampling, then
/// placed in a 28×28 field so that its centre of mass is the centre. Before that it finds the digit as a person would:
/// the paper's shading (a smooth surface fitted to it, so gradients and uneven lighting) is removed, the ink told from
/// the paper by Otsu's threshold, and specks (pieces of ink much smaller than the digit, or away from it) dropped.
/// </summary>
public static class MnistStyle
{
    public const int Size = 28, Box = 20;

    // A pixel above this fraction of the ink's level belongs to a stroke (where the paper is clean); an image whose
    // ink is less than MinimumContrast (of 255) above its background is blank.
    private const double InkThreshold = 0.1;
    private const int MinimumContrast = 24;
    // The digit has at least this many strong pixels (fewer in a picture of fewer than 64 times as many): grain that
    // stands out here and there is not a digit.
    private const int MinimumStroke = 12;
    // Ink is measured against at least this much room between the paper and black (or white), so that the grain of
    // paper nearly black (or white) is not magnified into ink.
    private const float MinimumRoom = 64;
    // Larger images are first averaged down to at most this many pixels a side: a digit needs no more, and a 40-
    // megapixel photo stays fast.
    private const int WorkingSide = 512;

    /// <summary>28×28 bytes, ink bright on black, row-major; an image with no digit is an ImageException.</summary>
    public static byte[] Convert(GrayImage image, string name)
    {
        if (image.Pixels.Max() - image.Pixels.Min() < MinimumContrast)
            throw new ImageException($"{name}: no digit found: the image is blank (one tone).");
        var (values, width, height) = Working(image);

        // With the paper's shading subtracted, what is left is the ink, darker or lighter, and the paper's grain.
        var shading = PaperShading.Of(values, width, height);
        var differences = new Levels();
        for (var i = 0; i < values.Length; i++) differences.Add(values[i] - shading[i]);
        var sign = differences.InkSign(Math.Max(3 * differences.Noise(), MinimumContrast / 2.0));
        if (differences.Highest(sign) < MinimumContrast)
            throw new ImageException($"{name}: no digit found: nothing stands out from the background.");

        // The ink made light, and measured against the room the paper leaves it (as an eye does: the black of a
        // marker on paper in shadow is as dark to it as on paper in the light): dark ink by how much darker than the
        // paper it is, light ink by how much of the way to white.
        var levels = new Levels();
        for (var i = 0; i < values.Length; i++)
        {
            var room = Math.Max(MinimumRoom, sign > 0 ? 255 - shading[i] : shading[i]);
            levels.Add(values[i] = sign * (values[i] - shading[i]) * 255 / room);
        }
        var noise = levels.Noise();

        // Strong pixels (above Otsu's threshold, and well above the grain) are surely ink; a stroke is every pixel
        // above the low threshold connected to them, so that anti-aliased edges and thin joins stay with it.
        var strong = Math.Max(levels.Otsu(), 3 * noise);
        var ink = levels.Ink(strong, MinimumContrast);
        var weak = Math.Min(strong, Math.Max(InkThreshold * ink, 3 * noise));
        var (labels, pieces) = InkPieces.Label(values, width, height, weak, strong);
        var (kept, box) = InkPieces.Digit(pieces, Math.Min(MinimumStroke, values.Length / 64))
            ?? throw new ImageException($"{name}: no digit found: nothing stands out from the paper's grain.");

        // Inside the digit's box, its strokes and the pixels touching them (the anti-aliasing's faint edge) scaled so
        // that the ink is 255; everything else, the specks included, is 0.
        var near = Near(labels, kept, width, box);
        var digit = new double[box.Width * box.Height];
        for (var y = 0; y < box.Height; y++)
            for (var x = 0; x < box.Width; x++)
            {
                var value = values[(y + box.Top) * width + x + box.Left];
                if (value > 0 && near[y * box.Width + x]) digit[y * box.Width + x] = Math.Min(255, value * 255 / ink);
            }
        return Centred(digit, box.Width, box.Height);
    }

    /// <summary>Within <paramref name="box"/>, which holds every kept piece, the pixels of a kept piece or next to one
    /// (8-neighbours).</summary>
    private static bool[] Near(int[] labels, bool[] kept, int stride, PixelBox box)
    {
        var (width, height) = (box.Width, box.Height);
        // Each kept pixel marks its row neighbours, then each marked pixel its column neighbours.
        var across = new bool[width * height];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                if (kept[labels[(y + box.Top) * stride + x + box.Left]])
                    for (var nx = Math.Max(0, x - 1); nx <= Math.Min(width - 1, x + 1); nx++)
                        across[y * width + nx] = true;
        var near = new bool[width * height];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                if (across[y * width + x])
                    for (var ny = Math.Max(0, y - 1); ny <= Math.Min(height - 1, y + 1); ny++)
                        near[ny * width + x] = true;
        return near;
    }

    /// <summary>The digit's box fitted into 20×20 and placed so that its centre of mass is the 28×28 field's
    /// centre.</summary>
    private static byte[] Centred(double[] digit, int width, int height)
    {
        var scale = (double)Box / Math.Max(width, height);
        int fittedWidth = Math.Max(1, (int)Math.Round(width * scale)),
            fittedHeight = Math.Max(1, (int)Math.Round(height * scale));
        var fitted = AreaResample(digit, width, height, fittedWidth, fittedHeight);

        double mass = 0, massX = 0, massY = 0;
        for (var y = 0; y < fittedHeight; y++)
            for (var x = 0; x < fittedWidth; x++)
            {
                var v = fitted[y * fittedWidth + x];
                (mass, massX, massY) = (mass + v, massX + v * (x + 0.5), massY + v * (y + 0.5));
            }
        var offsetX = Math.Clamp((int)Math.Round(Size / 2.0 - massX / mass), 0, Size - fittedWidth);
        var offsetY = Math.Clamp((int)Math.Round(Size / 2.0 - massY / mass), 0, Size - fittedHeight);
        var result = new byte[Size * Size];
        for (var y = 0; y < fittedHeight; y++)
            for (var x = 0; x < fittedWidth; x++)
                result[(y + offsetY) * Size + x + offsetX] =
                    (byte)Math.Clamp((int)Math.Round(fitted[y * fittedWidth + x]), 0, 255);
        return result;
    }

    /// <summary>The image's pixels as numbers, averaged down by a whole factor to at most WorkingSide a side.</summary>
    private static (float[] Values, int Width, int Height) Working(GrayImage image)
    {
        var factor = (Math.Max(image.Width, image.Height) + WorkingSide - 1) / WorkingSide;
        if (factor > 1) return BlockMean<byte>(image.Pixels, image.Width, image.Height, factor);
        var values = new float[image.Pixels.Length];
        for (var i = 0; i < values.Length; i++) values[i] = image.Pixels[i];
        return (values, image.Width, image.Height);
    }

    /// <summary>The mean of each factor × factor block (the last row and column of blocks may be smaller).</summary>
    internal static (float[] Values, int Width, int Height) BlockMean<T>(T[] source, int width, int height, int factor)
        where T : INumberBase<T>
    {
        int outWidth = (width + factor - 1) / factor, outHeight = (height + factor - 1) / factor;
        var sums = new float[outWidth * outHeight];
        for (var y = 0; y < height; y++)
        {
            var row = y / factor * outWidth;
            for (var block = 0; block < outWidth; block++)
            {
                float sum = 0;
                for (int x = block * factor, end = Math.Min(width, x + factor); x < end; x++)
                    sum += float.CreateTruncating(source[y * width + x]);
                sums[row + block] += sum;
            }
        }
        for (var by = 0; by < outHeight; by++)
            for (var bx = 0; bx < outWidth; bx++)
                sums[by * outWidth + bx] /= (Math.Min(width, (bx + 1) * factor) - bx * factor) *
                    (Math.Min(height, (by + 1) * factor) - by * factor);
        return (sums, outWidth, outHeight);
    }

    /// <summary>
    /// The width × height picture resampled to outWidth × outHeight: each output pixel is the mean of the source area
    /// it covers (fractional pixels weighted by their overlap).
    /// </summary>
    private static double[] AreaResample(double[] source, int width, int height, int outWidth, int outHeight)
    {
        var columnWeights = Weights(width, outWidth);
        var rowWeights = Weights(height, outHeight);
        var rows = new double[height * outWidth];
        for (var y = 0; y < height; y++)
            for (var o = 0; o < outWidth; o++)
            {
                double sum = 0;
                foreach (var (index, weight) in columnWeights[o]) sum += weight * source[y * width + index];
                rows[y * outWidth + o] = sum;
            }
        var result = new double[outHeight * outWidth];
        for (var o = 0; o < outHeight; o++)
            foreach (var (index, weight) in rowWeights[o])
                for (var x = 0; x < outWidth; x++)
                    result[o * outWidth + x] += weight * rows[index * outWidth + x];
        return result;
    }

    /// <summary>For each output cell, the source pixels it covers and their weights (summing to 1).</summary>
    private static List<(int Index, double Weight)>[] Weights(int inputs, int outputs)
    {
        var span = (double)inputs / outputs;
        var weights = new List<(int, double)>[outputs];
        for (var o = 0; o < outputs; o++)
        {
            weights[o] = [];
            double begin = o * span, end = (o + 1) * span;
            for (var i = (int)Math.Floor(begin); i < Math.Min(inputs, (int)Math.Ceiling(end)); i++)
            {
                var overlap = Math.Min(end, i + 1) - Math.Max(begin, i);
                if (overlap > 0) weights[o].Add((i, overlap / span));
            }
        }
        return weights;
    }
}
