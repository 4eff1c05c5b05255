using System.IO.Compression;
using LeNet.Mnist;
using LeNet.Tests.Mnist;

namespace LeNet.Tests.Fuzzing;

/// <summary>
/// The MNIST reader (IdxReader, then MnistDataset.FromIdx as the trainer calls it) on damaged files, raw and gzip:
/// every case reads or ends in a MnistDataException naming the file, and allocates no more than the file justifies.
/// </summary>
[Collection(nameof(FuzzingCollection))]
public class IdxFuzzTests
{
    private const string Name = "fuzzed.idx";
    private const int Images = 20, Side = 28;

    /// <summary>The first 20 real MNIST test digits and their labels, as raw IDX files.</summary>
    private static readonly Lazy<(byte[] Images, byte[] Labels)> Real = new(() =>
    {
        var images = MnistFiles.Read(MnistTestData.Directory, MnistPart.TestImages, verifyChecksum: false);
        var labels = MnistFiles.Read(MnistTestData.Directory, MnistPart.TestLabels, verifyChecksum: false);
        return (IdxBytes.Images(Images, Side, images.Data[..(Images * Side * Side)]),
            IdxBytes.Labels(labels.Data[..Images]));
    });

    private static byte[] ImagesFile => Real.Value.Images;
    private static byte[] LabelsFile => Real.Value.Labels;

    /// <summary>
    /// What the trainer does with a file: decode it, pair it with the other (intact) file of the split, check and
    /// preprocess them.
    /// </summary>
    private static void ReadImages(byte[] bytes)
    {
        var images = IdxReader.Read(new MemoryStream(bytes), Name, IdxReader.ImagesMagic);
        var labels = IdxReader.Read(new MemoryStream(LabelsFile), "labels", IdxReader.LabelsMagic);
        MnistDataset.FromIdx(images, labels, limit: null, MnistPreprocessing.DefaultImageSize,
            MnistPreprocessing.TrainMean, MnistPreprocessing.TrainStd);
    }

    private static void ReadLabels(byte[] bytes)
    {
        var images = IdxReader.Read(new MemoryStream(ImagesFile), "images", IdxReader.ImagesMagic);
        var labels = IdxReader.Read(new MemoryStream(bytes), Name, IdxReader.LabelsMagic);
        MnistDataset.FromIdx(images, labels, limit: null, MnistPreprocessing.DefaultImageSize,
            MnistPreprocessing.TrainMean, MnistPreprocessing.TrainStd);
    }

    /// <summary>
    /// What reading the split may cost: the intact files' decoded bytes and preprocessed floats (what a valid file of
    /// this size holds) a few times over, plus 1 MiB for the gzip reader's first buffer and the decoder's state.
    /// Any allocation scaling with what a damaged header claims rather than with what the file holds exceeds it.
    /// </summary>
    private static long Limit(byte[] _) =>
        4L * (ImagesFile.Length + LabelsFile.Length +
            4L * Images * MnistPreprocessing.DefaultImageSize * MnistPreprocessing.DefaultImageSize) + (2 << 20);

    private static IEnumerable<Mutation> Gzipped(IEnumerable<Mutation> cases) =>
        cases.Select(m => new Mutation(m.Description + ", then gzipped", IdxBytes.Gzip(m.Bytes)));

    [Fact(Timeout = 120_000)]
    public async Task Every_byte_of_the_headers_changed_raw_and_gzipped_reads_or_is_refused_with_our_error()
    {
        await Task.Run(() =>
        {
            var images = Mutations.EveryByte(ImagesFile, 0, 16).ToList();
            var labels = Mutations.EveryByte(LabelsFile, 0, 8).ToList();
            var gzip = IdxBytes.Gzip(ImagesFile);
            // The gzip member's own header (10 bytes) and the first deflate block's header and code tables.
            var compressed = Mutations.EveryByte(gzip, 0, 64).ToList();
            var reports = new[]
            {
                Fuzzer.Run<MnistDataException>(images, Name, ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Gzipped(images), Name, ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(labels, Name, ReadLabels, Limit),
                Fuzzer.Run<MnistDataException>(Gzipped(labels), Name, ReadLabels, Limit),
                Fuzzer.Run<MnistDataException>(compressed, Name, ReadImages, Limit),
            };
            foreach (var report in reports) report.AssertClean();
            // Almost every change to a header must be caught; the few harmless ones (a label's pixel-free header has
            // none).
            Assert.Equal(images.Count, reports[0].Refused);
            Assert.Equal(labels.Count, reports[2].Refused);
            Assert.True(reports[4].Refused > compressed.Count / 2,
                $"only {reports[4].Refused} of {compressed.Count} damaged gzip headers were refused");
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 120_000)]
    public async Task Payload_changes_and_truncations_raw_and_gzipped_read_or_are_refused_with_our_error()
    {
        await Task.Run(() =>
        {
            var gzip = IdxBytes.Gzip(ImagesFile);
            var reports = new[]
            {
                Fuzzer.Run<MnistDataException>(Mutations.SampledBytes(ImagesFile, 16, 200), Name, ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Mutations.SampledBytes(LabelsFile, 8, Images), Name, ReadLabels, Limit),
                Fuzzer.Run<MnistDataException>(Mutations.SampledBytes(gzip, 64, 300), Name, ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Mutations.Truncations(ImagesFile, 20), Name, ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Mutations.Truncations(gzip, 40), Name, ReadImages, Limit),
            };
            foreach (var report in reports) report.AssertClean();
            // A changed pixel is still an image; an inverted label byte is no digit; every truncation is refused.
            Assert.Equal(200, reports[0].Read);
            Assert.Equal(Images, reports[1].Refused);
            Assert.Equal(reports[3].Cases, reports[3].Refused);
            Assert.Equal(reports[4].Cases, reports[4].Refused);
            // Almost every damaged deflate stream is caught by the decoder or gzip's CRC-32.
            Assert.True(reports[2].Refused > 250,
                $"only {reports[2].Refused} of 300 damaged gzip payloads were refused");
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 120_000)]
    public async Task Random_damage_from_a_fixed_seed_reads_or_is_refused_with_our_error()
    {
        await Task.Run(() =>
        {
            var gzip = IdxBytes.Gzip(ImagesFile);
            var reports = new[]
            {
                Fuzzer.Run<MnistDataException>(Mutations.Random(ImagesFile, seed: 1, count: 1500, header: 16), Name,
                    ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Mutations.Random(gzip, seed: 2, count: 1500, header: 64), Name,
                    ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Gzipped(Mutations.Random(ImagesFile, seed: 3, count: 300, header: 16)),
                    Name, ReadImages, Limit),
                Fuzzer.Run<MnistDataException>(Mutations.Random(LabelsFile, seed: 4, count: 500, header: 8), Name,
                    ReadLabels, Limit),
            };
            foreach (var report in reports) report.AssertClean();
            Assert.Equal([1500, 1500, 300, 500], reports.Select(r => r.Cases));
            Assert.All(reports, r => Assert.True(r.Refused > r.Cases / 3, $"only {r.Refused} of {r.Cases} refused"));
        }, TestContext.Current.CancellationToken);
    }

    public static TheoryData<string, byte[], string> HandMade()
    {
        var pixels = new byte[Images * Side * Side];
        return new TheoryData<string, byte[], string>
        {
            // 2^31 as a big-endian int32 is 0x80000000: negative.
            { "2^31 images", IdxBytes.Build(IdxReader.ImagesMagic, [int.MinValue, Side, Side], pixels),
                "dimension 0 of the header is -2147483648" },
            { "2^31 - 1 images", IdxBytes.Build(IdxReader.ImagesMagic, [int.MaxValue, Side, Side], pixels),
                "the header claims 2,147,483,647 items" },
            { "2^31 - 1 images, gzip",
                IdxBytes.Gzip(IdxBytes.Build(IdxReader.ImagesMagic, [int.MaxValue, Side, Side], pixels)),
                "the header claims 2,147,483,647 items" },
            { "2^31 rows", IdxBytes.Build(IdxReader.ImagesMagic, [Images, int.MinValue, Side], pixels),
                "dimension 1 of the header is -2147483648" },
            { "zero images", IdxBytes.Build(IdxReader.ImagesMagic, [0, Side, Side], []),
                "dimension 0 of the header is 0" },
            { "zero columns", IdxBytes.Build(IdxReader.ImagesMagic, [Images, Side, 0], []),
                "dimension 2 of the header is 0" },
            { "negative rows", IdxBytes.Build(IdxReader.ImagesMagic, [Images, -28, Side], pixels),
                "dimension 1 of the header is -28" },
            { "a product past 2^31", IdxBytes.Build(IdxReader.ImagesMagic, [9_000_000, 1000, 1000], pixels),
                "more than 2,147,483,591 bytes of data" },
            { "a product past 2^63", IdxBytes.Build(IdxReader.ImagesMagic, [10_000_000, int.MaxValue, int.MaxValue],
                pixels), "more than 2,147,483,591 bytes of data" },
            { "gzip cut after its header", IdxBytes.Gzip(ImagesFile)[..10], "ends inside its IDX header" },
            { "gzip cut in the middle", IdxBytes.Gzip(ImagesFile)[..(IdxBytes.Gzip(ImagesFile).Length / 2)],
                "truncated" },
            { "gzip without its CRC and size", IdxBytes.Gzip(ImagesFile)[..^8],
                "the gzip stream is truncated or followed by other data" },
            { "gzip cut inside its size", IdxBytes.Gzip(ImagesFile)[..^1],
                "the gzip stream is truncated or followed by other data" },
            { "gzip with a wrong CRC", WithWrongCrc(IdxBytes.Gzip(ImagesFile)), "the gzip stream is corrupt" },
            { "gzip followed by garbage", [.. IdxBytes.Gzip(ImagesFile), .. "garbage"u8],
                "the gzip stream is truncated or followed by other data" },
            { "the gzip magic alone", [0x1f, 0x8b], "ends inside its IDX header" },
            { "empty", [], "ends inside its IDX header" },
            { "labels where images belong", LabelsFile, "declares 1 dimensions" },
            { "not square", IdxBytes.Build(IdxReader.ImagesMagic, [Images, Side / 2, Side * 2], pixels),
                "only square images are supported" },
            // Valid IDX, but 1×1 images preprocessed to 32×32 floats would cost 4 KiB per byte of file.
            { "1×1 images", IdxBytes.Build(IdxReader.ImagesMagic, [Images, 1, 1], new byte[Images]), "1×1" },
        };
    }

    [Theory]
    [MemberData(nameof(HandMade))]
    public void Hand_made_hostile_files_are_refused_with_our_error_naming_the_problem(string what, byte[] bytes,
        string expected)
    {
        var report = Fuzzer.Run<MnistDataException>([new Mutation(what, bytes)], Name, ReadImages, Limit);
        report.AssertClean();
        Assert.Equal(1, report.Refused);
        var error = Assert.Throws<MnistDataException>(() => ReadImages(bytes));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Millions_of_tiny_images_are_refused_before_preprocessing_multiplies_them()
    {
        // 2,000,000 images of 1×1 pixel: a 2 MB file (a 2 KB gzip) that 32×32 floats would turn into 8 GB.
        var count = 2_000_000;
        var gzip = IdxBytes.Gzip(IdxBytes.Build(IdxReader.ImagesMagic, [count, 1, 1], new byte[count]));
        var labels = IdxBytes.Gzip(IdxBytes.Labels(new byte[count]));
        Assert.True(gzip.Length < 16 << 10);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<MnistDataException>(() =>
        {
            var images = IdxReader.Read(new MemoryStream(gzip), Name, IdxReader.ImagesMagic);
            var digits = IdxReader.Read(new MemoryStream(labels), "labels", IdxReader.LabelsMagic);
            MnistDataset.FromIdx(images, digits, limit: null, MnistPreprocessing.DefaultImageSize,
                MnistPreprocessing.TrainMean, MnistPreprocessing.TrainStd);
        });
        Assert.Contains(Name, error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20,
            "the dataset was preprocessed before it was refused");
    }

    [Fact]
    public void A_gzip_bomb_is_decompressed_no_further_than_its_header_declares()
    {
        // Claims one 28×28 image; the gzip stream expands to 256 MiB of zeros from about 256 KiB.
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(IdxBytes.Build(IdxReader.ImagesMagic, [1, Side, Side], []));
            var zeros = new byte[1 << 20];
            for (var i = 0; i < 256; i++) gzip.Write(zeros);
        }
        var length = compressed.Length;
        compressed.Position = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<MnistDataException>(() => IdxReader.Read(compressed, Name, IdxReader.ImagesMagic));
        Assert.Contains("trailing data", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 2 << 20,
            "the reader decompressed beyond the declared size");
        // The reader stopped one byte past the declared payload: it consumed a sliver of the compressed stream.
        Assert.True(compressed.Position < length / 4,
            $"the reader consumed {compressed.Position:N0} of {length:N0} compressed bytes");
    }

    private static byte[] WithWrongCrc(byte[] gzip)
    {
        var bytes = (byte[])gzip.Clone();
        bytes[^8] ^= 0x55;
        return bytes;
    }
}
