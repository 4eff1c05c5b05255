using SkiaSharp;

namespace LeNet.Train.Images;

/// <summary>
/// Reads a PNG, JPEG, BMP (or GIF, WebP) file through SkiaSharp, or a PGM, as grayscale; a file that cannot be read, is
/// empty, or is not an image in a known format is an <see cref="ImageException"/>.
/// </summary>
public static class DigitImage
{
    public static GrayImage Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException
            or NotSupportedException)
        {
            throw new ImageException($"{path}: cannot be read ({e.Message.TrimEnd('.')}).", e);
        }
        if (bytes.Length == 0) throw new ImageException($"{path}: the file is empty.");
        if (PgmReader.IsPgm(bytes))
        {
            try { return PgmReader.Read(bytes); }
            catch (FormatException e)
            {
                throw new ImageException($"{path}: not a readable PGM image ({e.Message}).", e);
            }
        }
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        using var bitmap = codec is null ? null : SKBitmap.Decode(codec);
        if (bitmap is null || bitmap.Width < 1 || bitmap.Height < 1)
            throw new ImageException($"{path}: not a readable PNG, JPEG, BMP or PGM image.");
        return ToGray(bitmap);
    }

    /// <summary>Luminance (ITU-R BT.601), transparent pixels composited over white.</summary>
    public static GrayImage ToGray(SKBitmap bitmap)
    {
        using var rgba = bitmap.Copy(SKColorType.Rgba8888)
            ?? throw new ImageException("The image could not be converted to RGBA.");
        var source = rgba.GetPixelSpan();
        var pixels = new byte[rgba.Width * rgba.Height];
        var premultiplied = rgba.AlphaType == SKAlphaType.Premul;
        for (var i = 0; i < pixels.Length; i++)
        {
            int r = source[4 * i], g = source[4 * i + 1], b = source[4 * i + 2], a = source[4 * i + 3];
            var luminance = 0.299 * r + 0.587 * g + 0.114 * b;
            // Over white: premultiplied colour + (1 − α)·255; straight colour · α + (1 − α)·255.
            var over = premultiplied ? luminance + (255 - a) : (luminance * a + 255.0 * (255 - a)) / 255;
            pixels[i] = (byte)Math.Clamp((int)Math.Round(over), 0, 255);
        }
        return new GrayImage(rgba.Width, rgba.Height, pixels);
    }
}
