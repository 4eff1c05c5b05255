using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

public sealed class MnistDatasetTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>Writes a tiny split under the given file names: <paramref name="count"/> random 28×28 images.</summary>
    private (byte[] Pixels, byte[] Labels) WriteSplit(string imagesName, string labelsName, int count, int labelCount,
        int seed)
    {
        byte[] pixels = IdxBytes.RandomBytes(count * 28 * 28, seed);
        byte[] labels = Enumerable.Range(0, labelCount).Select(i => (byte)((i * 7 + seed) % 10)).ToArray();
        byte[] imageFile = IdxBytes.Images(count, 28, pixels), labelFile = IdxBytes.Labels(labels);
        File.WriteAllBytes(_directory.Combine(imagesName),
            imagesName.EndsWith(".gz") ? IdxBytes.Gzip(imageFile) : imageFile);
        File.WriteAllBytes(_directory.Combine(labelsName),
            labelsName.EndsWith(".gz") ? IdxBytes.Gzip(labelFile) : labelFile);
        return (pixels, labels);
    }

    [Theory]
    [InlineData("train-images-idx3-ubyte", "train-labels-idx1-ubyte")]
    [InlineData("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")]
    [InlineData("train-images.idx3-ubyte", "train-labels.idx1-ubyte")]
    public void LoadsEveryAcceptedFileName(string imagesName, string labelsName)
    {
        var (pixels, labels) = WriteSplit(imagesName, labelsName, count: 5, labelCount: 5, seed: 1);
        MnistDataset dataset = MnistDataset.Load(_directory.Path, train: true, verifyChecksums: false);

        Assert.Equal(5, dataset.Count);
        Assert.Equal(32, dataset.ImageSize);
        Assert.Equal(10, dataset.Classes);
        Assert.Equal(5 * 32 * 32, dataset.Images.Length);
        Assert.Equal(labels.Select(l => (int)l), dataset.Labels);
        Assert.Equal(MnistPreprocessing.Preprocess(pixels, 5, 28, 32, MnistPreprocessing.TrainMean,
            MnistPreprocessing.TrainStd), dataset.Images);
    }

    [Fact]
    public void TestSplitUsesTestConstantsAndLimit()
    {
        var (pixels, _) = WriteSplit("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", count: 6, labelCount: 6,
            seed: 2);
        MnistDataset dataset = MnistDataset.Load(_directory.Path, train: false, limit: 4, imageSize: 28,
            verifyChecksums: false);

        Assert.Equal(4, dataset.Count);
        Assert.Equal((pixels[0] / 255f - MnistPreprocessing.TestMean) / MnistPreprocessing.TestStd, dataset.Images[0]);
        Assert.Equal(dataset.Images.AsSpan(0, 2 * 28 * 28).ToArray(), dataset.Take(2).Images);
        Assert.Equal(dataset.Labels[..2], dataset.Take(2).Labels);
    }

    [Fact]
    public void CountMismatchIsRefused()
    {
        WriteSplit("train-images-idx3-ubyte", "train-labels-idx1-ubyte", count: 5, labelCount: 4, seed: 3);
        var error = Assert.Throws<MnistDataException>(() =>
            MnistDataset.Load(_directory.Path, train: true, verifyChecksums: false));
        Assert.Contains("5 images", error.Message);
        Assert.Contains("4 labels", error.Message);
    }

    [Fact]
    public void LabelOutsideTheDigitsIsRefused()
    {
        File.WriteAllBytes(_directory.Combine("train-images-idx3-ubyte"),
            IdxBytes.Images(2, 28, new byte[2 * 28 * 28]));
        File.WriteAllBytes(_directory.Combine("train-labels-idx1-ubyte"), IdxBytes.Labels([3, 10]));
        var error = Assert.Throws<MnistDataException>(() =>
            MnistDataset.Load(_directory.Path, train: true, limit: 1, verifyChecksums: false));
        Assert.Contains("label 1 is 10", error.Message);
    }

    [Fact]
    public void ChecksumMismatchNamesTheFileAndTheWayOut()
    {
        WriteSplit("train-images-idx3-ubyte", "train-labels-idx1-ubyte", count: 5, labelCount: 5, seed: 4);
        var error = Assert.Throws<MnistDataException>(() => MnistDataset.Load(_directory.Path, train: true));
        Assert.Contains(_directory.Combine("train-images-idx3-ubyte"), error.Message);
        Assert.Contains(MnistFiles.Sha256(MnistPart.TrainImages), error.Message);
        Assert.Contains("without checksum verification", error.Message);
    }

    [Fact]
    public void MissingFileNamesTheAcceptedNames()
    {
        var error = Assert.Throws<MnistDataException>(() => MnistDataset.Load(_directory.Path, train: true));
        Assert.Contains(_directory.Path, error.Message);
        Assert.Contains("train-images.idx3-ubyte.gz", error.Message);
    }

    [Fact]
    public void RealTrainingSet()
    {
        MnistDataset train = MnistDataset.Load(MnistTestData.Directory, train: true, imageSize: 28, mean: 0, std: 1);
        Assert.Equal(60_000, train.Count);
        Assert.Equal(5, train.Labels[0]);
        Assert.Equal([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], Histogram(train.Labels));
        // The article's training mean and std are those of the raw pixels.
        double mean = train.Images.Average(value => (double)value);
        double std = Math.Sqrt(train.Images.Average(value => (value - mean) * (value - mean)));
        Assert.Equal(MnistPreprocessing.TrainMean, mean, 1e-4);
        Assert.Equal(MnistPreprocessing.TrainStd, std, 1e-4);
    }

    [Fact]
    public void RealTestSet()
    {
        MnistDataset test = MnistDataset.Load(MnistTestData.Directory, train: false);
        Assert.Equal(10_000, test.Count);
        Assert.Equal(32, test.ImageSize);
        Assert.Equal(10_000 * 32 * 32, test.Images.Length);
        Assert.Equal(7, test.Labels[0]);
        Assert.Equal([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], Histogram(test.Labels));
    }

    [Fact]
    public void RealFilesMatchTheCanonicalChecksums()
    {
        foreach (MnistPart part in MnistFiles.AllParts)
        {
            IdxFile file = MnistFiles.Read(MnistTestData.Directory, part, verifyChecksum: true);
            Assert.Equal(MnistFiles.Sha256(part), Convert.ToHexStringLower(file.Sha256));
        }
    }

    private static int[] Histogram(int[] labels)
    {
        var counts = new int[10];
        foreach (int label in labels)
            counts[label]++;
        return counts;
    }
}
