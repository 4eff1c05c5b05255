using LeNet.Core.Files;
using SkiaSharp;

namespace LeNet.Train.Images;

/// <summary>
/// Reads a PNG, JPEG, BMP (or GIF, WebP) file through SkiaSharp, or a PGM, as grayscale; a file that cannot be read, is
/// empty, or is not an image in a known format is an <see cref="ImageException"/>.
/// </summary>
public static class DigitImage
{
    /// <summary>The default bound on an image's pixels, read from its header before anything is decoded: a 389 KB PNG
    /// can declare 20000×20000 and take gigabytes to decode.</summary>
    public const double DefaultMaxMegapixels = 40;

    // A digit photo is a few megabytes; an image file above this is not one, whatever its pixel count.
    private const long MaxFileBytes = 256L << 20;

    /// <summary>What an image over the bound is told to do, where the command has a --max-megapixels.</summary>
    public const string RaiseTheLimit = "pass --max-megapixels to raise the limit";

    /// <summary>Reads and decodes <paramref name="path"/>; messages name it as <paramref name="shown"/> (printable
    /// text, the escaped path by default) and end an image over the bound with <paramref name="tooLarge"/>.</summary>
    public static GrayImage Load(string path, double maxMegapixels = DefaultMaxMegapixels, string? shown = null,
        string tooLarge = RaiseTheLimit)
    {
        shown ??= FileText.Escape(path);
        byte[] bytes;
        try { bytes = ReadableFile.ReadAllBytes(path, MaxFileBytes); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException
            or NotSupportedException)
        {
            throw new ImageException($"{shown}: cannot be read ({e.Message.TrimEnd('.')}).", e);
        }
        return Decode(bytes, shown, maxMegapixels, tooLarge);
    }

    /// <summary>
    /// Decodes an image file's <paramref name="bytes"/>; <paramref name="shown"/> names it in messages.
    /// </summary>
    public static GrayImage Decode(byte[] bytes, string shown, double maxMegapixels = DefaultMaxMegapixels,
        string tooLarge = RaiseTheLimit)
    {
        if (bytes.Length == 0) throw new ImageException($"{shown}: the file is empty.");
        if (PgmReader.IsPgm(bytes))
        {
            try
            {
                return PgmReader.Read(bytes,
                    size => CheckSize(shown, size.Width, size.Height, maxMegapixels, tooLarge));
            }
            catch (FormatException e)
            {
                throw new ImageException($"{shown}: not a readable PGM image ({e.Message}).", e);
            }
        }
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
            ?? throw new ImageException($"{shown}: not a readable PNG, JPEG, BMP or PGM image.");
        CheckSize(shown, codec.Info.Width, codec.Info.Height, maxMegapixels, tooLarge);
        // Decoded straight into RGBA with unpremultiplied alpha: one buffer of 4 bytes a pixel, no second copy.
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info))
            throw new ImageException($"{shown}: {info.Width}×{info.Height} pixels do not fit in memory.");
        if (codec.GetPixels(info, bitmap.GetPixels()) is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new ImageException($"{shown}: not a readable PNG, JPEG, BMP or PGM image.");
        return ToGray(bitmap);
    }

    private static void CheckSize(string shown, int width, int height, double maxMegapixels, string tooLarge)
    {
        if (width < 1 || height < 1) throw new ImageException($"{shown}: its header declares {width}×{height} pixels.");
        var megapixels = (double)width * height / 1e6;
        if (megapixels > maxMegapixels)
            throw new ImageException(
                $"{shown}: the image is {width}×{height} ({megapixels:0.#} megapixels), more than the " +
                $"{maxMegapixels:0.#} allowed; {tooLarge}.");
    }

    /// <summary>Luminance (ITU-R BT.601), transparent pixels composited over white.</summary>
    public static GrayImage ToGray(SKBitmap bitmap)
    {
        using var converted = bitmap.ColorType == SKColorType.Rgba8888 ? null : bitmap.Copy(SKColorType.Rgba8888)
            ?? throw new ImageException("The image could not be converted to RGBA.");
        var rgba = converted ?? bitmap;
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
