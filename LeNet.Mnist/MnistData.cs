namespace LeNet.Mnist;

/// <summary>Both MNIST splits, preprocessed, from one data directory.</summary>
public sealed class MnistData
{
    public MnistData(string directory, MnistDataset train, MnistDataset test)
    {
        Directory = directory;
        Train = train;
        Test = test;
    }

    /// <summary>The full path of the directory the files were read from.</summary>
    public string Directory { get; }

    public MnistDataset Train { get; }

    public MnistDataset Test { get; }

    /// <summary>
    /// Acquires the files if needed (see <see cref="MnistAcquirer"/>), then loads and preprocesses both
    /// splits with the reference article's constants, verifying the canonical checksums.
    /// </summary>
    /// <param name="directory">The trainer's <c>--data</c>; null for <c>LENET_DATA</c> or <c>./data/mnist</c>.</param>
    /// <param name="trainLimit">Keep only the first images of the training set (null: all 60,000).</param>
    /// <param name="testLimit">Keep only the first images of the test set (null: all 10,000).</param>
    /// <param name="imageSize">Side length of the preprocessed images; LeNet-5 takes 32.</param>
    /// <param name="acquirer">Null for a default <see cref="MnistAcquirer"/> without progress output.</param>
    public static MnistData Load(string? directory = null, int? trainLimit = null, int? testLimit = null,
        int imageSize = MnistPreprocessing.DefaultImageSize, MnistAcquirer? acquirer = null)
    {
        string resolved = (acquirer ?? new MnistAcquirer()).Acquire(directory);
        return new MnistData(resolved,
            MnistDataset.Load(resolved, train: true, trainLimit, imageSize),
            MnistDataset.Load(resolved, train: false, testLimit, imageSize));
    }
}
