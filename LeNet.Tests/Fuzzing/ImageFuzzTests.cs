using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using LeNet.Train.Images;
using SkiaSharp;

namespace LeNet.Tests.Fuzzing;

/// <summary>
/// predict's image reader on decompression bombs (a small file whose header declares a huge image) in every format it
/// reads, and on damaged headers: each is refused in one sentence naming the file, fast and without allocating more
/// than 200 MB (issue 19, point 3).
/// </summary>
[Collection(nameof(FuzzingCollection))]
public class ImageFuzzTests
{
    private const string Name = "digit.img";
    private const long MaxAllocation = 200L << 20;

    private static byte[] Encoded(SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(SKColors.White);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>A real PNG whose IHDR now declares <paramref name="size"/>², its checksum made right again.</summary>
    internal static byte[] PngBomb(int size)
    {
        var png = Encoded(SKEncodedImageFormat.Png);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), size);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), size);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32(png.AsSpan(12, 17)));
        return png;
    }

    /// <summary>A real JPEG whose frame header (SOF0) now declares <paramref name="size"/>² (at most 65535).</summary>
    private static byte[] JpegBomb(int size)
    {
        var jpeg = Encoded(SKEncodedImageFormat.Jpeg);
        var sof = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        Assert.True(sof > 0, "the encoded JPEG has no baseline frame header");
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), (ushort)size);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), (ushort)size);
        return jpeg;
    }

    /// <summary>An 8-bit RLE BMP of <paramref name="size"/>² whose pixels are one end-of-bitmap code: about
    /// 1 KB.</summary>
    private static byte[] BmpBomb(int size)
    {
        var bmp = new byte[14 + 40 + 1024 + 2];
        "BM"u8.CopyTo(bmp);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), bmp.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 14 + 40 + 1024);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), size);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), size);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 8);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(30), 1); // BI_RLE8
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(34), 2);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(46), 256);
        bmp[^1] = 1; // 00 01: end of bitmap
        return bmp;
    }

    /// <summary>A GIF whose screen and one frame are <paramref name="size"/>² (at most 65535), with two bytes of
    /// data.</summary>
    private static byte[] GifBomb(int size)
    {
        var gif = new List<byte>("GIF89a"u8.ToArray());
        void Short(int v) => gif.AddRange([(byte)v, (byte)(v >> 8)]);
        Short(size);
        Short(size);
        gif.AddRange([0x80, 0, 0, 0, 0, 0, 255, 255, 255]); // a global table of two colours
        gif.Add(0x2C);
        Short(0);
        Short(0);
        Short(size);
        Short(size);
        gif.AddRange([0, 2, 2, 0x4C, 0x01, 0, 0x3B]);
        return gif.ToArray();
    }

    private static byte[] PgmBomb(int size, bool plain) =>
        Encoding.ASCII.GetBytes($"{(plain ? "P2" : "P5")}\n{size} {size}\n255\n0 0 0\n");

    private static IEnumerable<Mutation> Bombs() =>
        from size in new[] { 20_000, 60_000 }
        from bomb in new (string Format, Func<int, byte[]> Make)[]
        {
            ("PNG", PngBomb), ("JPEG", s => JpegBomb(Math.Min(s, 65535))), ("BMP", BmpBomb),
            ("GIF", s => GifBomb(Math.Min(s, 65535))), ("PGM P5", s => PgmBomb(s, plain: false)),
            ("PGM P2", s => PgmBomb(s, plain: true)),
        }
        select new Mutation($"{bomb.Format} declaring {size}×{size}", bomb.Make(size));

    private static void Read(byte[] bytes) => DigitImage.Decode(bytes, Name);

    [Fact(Timeout = 120_000)]
    public async Task Every_bomb_is_refused_by_its_header_in_one_sentence_fast_and_small()
    {
        await Task.Run(() =>
        {
            foreach (var bomb in Bombs())
            {
                var clock = Stopwatch.StartNew();
                var report = Fuzzer.Run<ImageException>([bomb], Name, Read, _ => MaxAllocation);
                report.AssertClean();
                Assert.True(report.Refused == 1, $"{bomb.Description} was read, not refused");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{bomb.Description} took {clock.Elapsed}");
                var message = Assert.Throws<ImageException>(() => Read(bomb.Bytes)).Message;
                if (!bomb.Description.StartsWith("PGM", StringComparison.Ordinal) || !message.Contains("too large"))
                    Assert.Contains("megapixels), more than the 40 allowed; pass --max-megapixels", message);
            }
        }, TestContext.Current.CancellationToken);
    }

    [Fact]
    public void The_limit_is_the_users_to_move()
    {
        var png = PngBomb(2000);
        Assert.Contains("(4 megapixels), more than the 3 allowed",
            Assert.Throws<ImageException>(() => DigitImage.Decode(png, Name, maxMegapixels: 3)).Message);
        var image = DigitImage.Decode(png, Name, maxMegapixels: 5);
        Assert.Equal((2000, 2000), (image.Width, image.Height));
    }

    public static TheoryData<string> Formats => new() { "PNG", "JPEG", "BMP", "GIF" };

    [Theory(Timeout = 300_000)]
    [MemberData(nameof(Formats))]
    public async Task Every_header_byte_of_a_small_image_changed_reads_or_is_refused(string format)
    {
        await Task.Run(() =>
        {
            var original = format switch
            {
                "PNG" => Encoded(SKEncodedImageFormat.Png),
                "JPEG" => Encoded(SKEncodedImageFormat.Jpeg),
                "BMP" => BmpBomb(16),
                _ => GifBomb(16),
            };
            var cases = Mutations.EveryByte(original, 0, Math.Min(original.Length, 64)).ToList();
            Fuzzer.Run<ImageException>(cases, Name, Read, _ => MaxAllocation).AssertClean();
        }, TestContext.Current.CancellationToken);
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? crc >> 1 ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
