namespace LeNet.Train.Images;

/// <summary>
/// Turns a photo or drawing of one digit into an MNIST image, as MNIST's digits were made: white ink on black
/// (inverted when the background is light), the digit's bounding box fitted into 20×20 keeping its aspect ratio with
/// area-averaging (anti-aliased) resampling, then placed in a 28×28 field so that its centre of mass is the centre.
/// </summary>
public static class MnistStyle
{
    public const int Size = 28, Box = 20;
    // A pixel above this fraction of the range is ink for the bounding box; an image whose ink is less than
    // MinimumContrast (of 255) above its background is blank.
    private const double InkThreshold = 0.1;
    private const int MinimumContrast = 24;

    /// <summary>28×28 bytes, ink bright on black, row-major; an image of one tone is an ImageException.</summary>
    public static byte[] Convert(GrayImage image, string name)
    {
        var values = new double[image.Pixels.Length];
        var background = BorderMedian(image);
        var invert = background > 127;
        for (var i = 0; i < values.Length; i++) values[i] = invert ? 255 - image.Pixels[i] : image.Pixels[i];
        background = invert ? 255 - background : background;

        // The background becomes 0 and the brightest ink 255, so that paper grain and JPEG noise vanish.
        var max = values.Max();
        if (max - background < MinimumContrast)
            throw new ImageException($"{name}: no digit found: the image is blank (one tone).");
        for (var i = 0; i < values.Length; i++)
            values[i] = Math.Max(0, values[i] - background) * 255 / (max - background);

        int left = image.Width, top = image.Height, right = -1, bottom = -1;
        for (var y = 0; y < image.Height; y++)
            for (var x = 0; x < image.Width; x++)
                if (values[y * image.Width + x] > InkThreshold * 255)
                    (left, top, right, bottom) =
                        (Math.Min(left, x), Math.Min(top, y), Math.Max(right, x), Math.Max(bottom, y));
        int width = right - left + 1, height = bottom - top + 1;
        var scale = (double)Box / Math.Max(width, height);
        int fittedWidth = Math.Max(1, (int)Math.Round(width * scale)),
            fittedHeight = Math.Max(1, (int)Math.Round(height * scale));
        var fitted = AreaResample(values, image.Width, left, top, width, height, fittedWidth, fittedHeight);

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

    /// <summary>The median of the outermost rows and columns: the paper's tone.</summary>
    private static int BorderMedian(GrayImage image)
    {
        var border = new List<byte>();
        for (var x = 0; x < image.Width; x++) { border.Add(image[x, 0]); border.Add(image[x, image.Height - 1]); }
        for (var y = 0; y < image.Height; y++) { border.Add(image[0, y]); border.Add(image[image.Width - 1, y]); }
        border.Sort();
        return border[border.Count / 2];
    }

    /// <summary>
    /// The rectangle (left, top, width, height) resampled to outWidth × outHeight: each output pixel is the mean of
    /// the source area it covers (fractional pixels weighted by their overlap).
    /// </summary>
    private static double[] AreaResample(double[] source, int stride, int left, int top, int width, int height,
        int outWidth, int outHeight)
    {
        var columnWeights = Weights(width, outWidth);
        var rowWeights = Weights(height, outHeight);
        var rows = new double[height * outWidth];
        for (var y = 0; y < height; y++)
            for (var o = 0; o < outWidth; o++)
            {
                double sum = 0;
                foreach (var (index, weight) in columnWeights[o])
                    sum += weight * source[(top + y) * stride + left + index];
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
