using System.Security.Cryptography;
using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string Write(string name, byte[] bytes, bool gzip)
    {
        string path = _directory.Combine(name);
        File.WriteAllBytes(path, gzip ? IdxBytes.Gzip(bytes) : bytes);
        return path;
    }

    private MnistDataException ReadImagesFails(byte[] bytes, bool gzip, string fragment)
    {
        string path = Write("images", bytes, gzip);
        var error = Assert.Throws<MnistDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(fragment, error.Message);
        return error;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImagesAndLabelsRoundTrip(bool gzip)
    {
        byte[] pixels = IdxBytes.RandomBytes(3 * 5 * 5, seed: 1);
        byte[] labels = [7, 0, 255];
        byte[] imageFile = IdxBytes.Images(3, 5, pixels);
        // Named without .gz on purpose: compression is detected from the content.
        IdxFile images = IdxReader.ReadImages(Write("images", imageFile, gzip));
        IdxFile labelFile = IdxReader.ReadLabels(Write("labels", IdxBytes.Labels(labels), gzip));

        Assert.Equal([3, 5, 5], images.Dimensions);
        Assert.Equal(3, images.Count);
        Assert.Equal(pixels, images.Data);
        Assert.Equal(SHA256.HashData(imageFile), images.Sha256);
        Assert.Equal([3], labelFile.Dimensions);
        Assert.Equal(labels, labelFile.Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrongMagicIsRefused(bool gzip) =>
        ReadImagesFails(IdxBytes.Build(0x0D03, [1, 2, 2], new byte[16]), gzip, "magic number is 0x00000D03");

    [Fact]
    public void WrongDimensionCountIsRefused()
    {
        byte[] labels = IdxBytes.Labels([1, 2, 3]);
        var error = ReadImagesFails(labels, gzip: false, "declares 1 dimensions");
        Assert.Contains("0x00000803", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void NonPositiveDimensionIsRefused(int rows) =>
        ReadImagesFails(IdxBytes.Build(0x803, [1, rows, 2], []), gzip: false, $"dimension 1 of the header is {rows}");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedPayloadIsRefused(bool gzip) =>
        ReadImagesFails(IdxBytes.Build(0x803, [2, 4, 4], new byte[31]), gzip, "truncated");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrailingDataIsRefused(bool gzip) =>
        ReadImagesFails(IdxBytes.Build(0x803, [2, 4, 4], new byte[33]), gzip, "trailing data");

    [Fact]
    public void TruncatedHeaderIsRefused() =>
        ReadImagesFails(IdxBytes.Build(0x803, [2, 4, 4], [])[..10], gzip: false, "ends inside its IDX header");

    [Theory]
    [InlineData(false, int.MaxValue, 28, "items")]
    [InlineData(true, int.MaxValue, 28, "items")]
    [InlineData(false, 10_000_000, 28 * 28, "bytes of data")]
    [InlineData(true, 10_000_000, 28 * 28, "bytes of data")]
    public void HugeClaimIsRefusedWithoutAllocating(bool gzip, int count, int size, string fragment)
    {
        byte[] bytes = IdxBytes.Build(0x803, [count, size, size], new byte[100]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ReadImagesFails(bytes, gzip, fragment);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20,
            "the reader allocated for the claimed size");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LyingHeaderCostsLittleMemory(bool gzip)
    {
        // 2,000,000 images of 28×28 is 1.5 GB, below the hard bound, but the file holds one image.
        byte[] bytes = IdxBytes.Build(0x803, [2_000_000, 28, 28], new byte[28 * 28]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ReadImagesFails(bytes, gzip, "truncated");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 32 << 20,
            "the reader allocated for the claimed size");
    }

    [Fact]
    public void GzipBombIsRefusedAfterTheClaimedSize()
    {
        // Claims one 28×28 image; decompresses to 64 MB.
        string path = Write("bomb", IdxBytes.Build(0x803, [1, 28, 28], new byte[64 << 20]), gzip: true);
        Assert.True(new FileInfo(path).Length < 1 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<MnistDataException>(() => IdxReader.ReadImages(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 2 << 20,
            "the reader decompressed beyond the claimed size");
        Assert.Contains("trailing data", error.Message);
    }

    [Fact]
    public void RandomBytesAfterTheGzipMagicAreOurError()
    {
        byte[] bytes = [0x1f, 0x8b, .. IdxBytes.RandomBytes(1000, seed: 2)];
        string path = Write("images", bytes, gzip: false);
        var error = Assert.Throws<MnistDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("gzip", error.Message);
    }

    [Fact]
    public void TruncatedGzipStreamIsOurError()
    {
        byte[] gzip = IdxBytes.Gzip(IdxBytes.Images(10, 28, IdxBytes.RandomBytes(10 * 28 * 28, seed: 3)));
        string path = Write("images", gzip[..(gzip.Length / 2)], gzip: false);
        var error = Assert.Throws<MnistDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void MissingFileIsOurError()
    {
        string path = _directory.Combine("absent");
        var error = Assert.Throws<MnistDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void EveryMessageEndsWithWhatToDo()
    {
        var error = ReadImagesFails(IdxBytes.Build(0x803, [2, 4, 4], new byte[31]), gzip: false, "truncated");
        Assert.EndsWith("delete it and it is downloaded again).", error.Message);
    }
}
