using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>Any four MNIST-format IDX files work with --data; the default folders must hold the canonical
/// MNIST.</summary>
public class DatasetTests
{
    private static void WriteDataset(string folder, int train, int test, int seed)
    {
        var random = new Random(seed);
        byte[] Labels(int n) => Enumerable.Range(0, n).Select(_ => (byte)random.Next(10)).ToArray();
        File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte"),
            IdxBytes.Images(train, 28, IdxBytes.RandomBytes(train * 784, seed)));
        File.WriteAllBytes(Path.Combine(folder, "train-labels-idx1-ubyte"), IdxBytes.Labels(Labels(train)));
        File.WriteAllBytes(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"),
            IdxBytes.Gzip(IdxBytes.Images(test, 28, IdxBytes.RandomBytes(test * 784, seed + 1))));
        File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte"), IdxBytes.Labels(Labels(test)));
    }

    [Fact]
    public void A_folder_given_with_data_may_hold_another_dataset_in_mnist_format_but_a_default_folder_must_be_mnist()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path, train: 130, test: 40, seed: 3);
        File.WriteAllLines(Path.Combine(folder.Path, "classes.txt"),
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

        var data = MnistData.Load(folder.Path, acquirer: new MnistAcquirer([]));
        Assert.Equal((130, 40), (data.Train.Count, data.Test.Count));
        Assert.Equal("Ankle boot", data.ClassNames[9]);
        var error = Assert.Throws<MnistDataException>(() =>
            MnistData.Load(folder.Path, acquirer: new MnistAcquirer([]), verifyChecksums: true));
        Assert.Contains("the SHA-256 of its decompressed contents is", error.Message);

        // The trainer takes it, and the saved model and its pictures carry the class names.
        var output = Path.Combine(folder.Path, "out");
        var log = new StringWriter();
        var options = new TrainOptions { DataDirectory = folder.Path, Epochs = 1, BatchSize = 32,
            OutputDirectory = output, Model = "lenet1998" };
        Assert.Equal(0, TrainCommand.Run(options, log, TextWriter.Null));
        Assert.Contains($"MNIST from {folder.Path}: loaded, checked and preprocessed", log.ToString());
        Assert.StartsWith("LeNet-5 (1998, tanh): 61,706 trainable parameters;", log.ToString().Split('\n')[1]);
        var saved = SavedModel.Load(Path.Combine(output, "model.safetensors"));
        Assert.Equal("lenet1998", saved.Variant);
        Assert.Equal("Sneaker", saved.ClassNames[7]);
        Assert.True(File.Exists(Path.Combine(output, "misclassified.png")));
    }
}
