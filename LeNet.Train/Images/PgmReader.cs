using System.Text;

namespace LeNet.Train.Images;

/// <summary>
/// Netpbm graymaps: P5 (binary, 8- or 16-bit big-endian samples) and P2 (plain text), any maxval up to 65535,
/// '#' comments in the header; samples are rescaled to 0..255. SkiaSharp does not read this format.
/// </summary>
public static class PgmReader
{
    public static bool IsPgm(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '2');

    /// <exception cref="FormatException">The header or the samples are malformed or truncated.</exception>
    /// <param name="checkSize">Sees the header's size before any pixel is allocated, and throws to refuse it.</param>
    public static GrayImage Read(byte[] bytes, Action<(int Width, int Height)>? checkSize = null)
    {
        if (!IsPgm(bytes)) throw new FormatException("not a PGM file (no P2 or P5 magic)");
        var plain = bytes[1] == '2';
        var position = 2;
        int width = ReadNumber(bytes, ref position), height = ReadNumber(bytes, ref position),
            maxValue = ReadNumber(bytes, ref position);
        if (width < 1 || height < 1) throw new FormatException($"its size is {width}×{height}");
        if ((long)width * height > 1 << 28) throw new FormatException($"its size {width}×{height} is too large");
        if (maxValue is < 1 or > 65535) throw new FormatException($"its maximum value {maxValue} is outside 1..65535");
        checkSize?.Invoke((width, height));
        var pixels = new byte[width * height];
        if (plain)
        {
            for (var i = 0; i < pixels.Length; i++) pixels[i] = Scale(ReadNumber(bytes, ref position), maxValue);
            return new GrayImage(width, height, pixels);
        }
        position++; // exactly one whitespace byte separates the header from binary samples
        var sampleBytes = maxValue < 256 ? 1 : 2;
        if (bytes.Length - position < (long)pixels.Length * sampleBytes)
            throw new FormatException(
                $"it holds {Math.Max(0, bytes.Length - position)} bytes of samples, not the " +
                $"{pixels.Length * sampleBytes} its header promises");
        for (var i = 0; i < pixels.Length; i++)
        {
            var sample = sampleBytes == 1 ? bytes[position + i]
                : bytes[position + 2 * i] << 8 | bytes[position + 2 * i + 1];
            pixels[i] = Scale(sample, maxValue);
        }
        return new GrayImage(width, height, pixels);
    }

    private static byte Scale(int sample, int maxValue) =>
        sample > maxValue ? throw new FormatException($"a sample {sample} exceeds the maximum value {maxValue}")
            : (byte)((sample * 255 + maxValue / 2) / maxValue);

    private static int ReadNumber(byte[] bytes, ref int position)
    {
        while (position < bytes.Length)
        {
            if (bytes[position] == '#')
                while (position < bytes.Length && bytes[position] != '\n') position++;
            else if (char.IsWhiteSpace((char)bytes[position])) position++;
            else break;
        }
        var start = position;
        long value = 0;
        while (position < bytes.Length && bytes[position] is >= (byte)'0' and <= (byte)'9' && value <= int.MaxValue)
            value = value * 10 + (bytes[position++] - '0');
        if (position == start)
            throw new FormatException(position >= bytes.Length ? "it ends early"
                : $"'{Encoding.ASCII.GetString(bytes, position, 1)}' where a number was expected");
        if (value > int.MaxValue) throw new FormatException("a number in it is too large");
        return (int)value;
    }
}
