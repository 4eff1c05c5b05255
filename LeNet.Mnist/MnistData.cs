namespace LeNet.Mnist;

/// <summary>Both MNIST splits, preprocessed, from one data directory.</summary>
public sealed class MnistData
{
    public MnistData(string directory, MnistDataset train, MnistDataset test, IReadOnlyList<string>? classNames = null)
    {
        Directory = directory;
        Train = train;
        Test = test;
        ClassNames = classNames ?? ClassNamesFile.Digits;
    }

    /// <summary>The full path of the directory the files were read from.</summary>
    public string Directory { get; }

    public MnistDataset Train { get; }

    public MnistDataset Test { get; }

    /// <summary>
    /// Which dataset this is, as lowercase hex: SHA-256 over both splits' <see cref="MnistDataset.FilesSha256"/> (all
    /// four files' contents, whatever the limits), so a checkpoint can refuse to resume on other data; null when a
    /// split was not read from files.
    /// </summary>
    public string? Identity => Train.FilesSha256 is { } train && Test.FilesSha256 is { } test
        ? Convert.ToHexStringLower(MnistDataset.Combine(train, test))
        : null;

    /// <summary>
    /// The class names in label order: MNIST's ten from an optional classes.txt in <see cref="Directory"/> (see
    /// <see cref="ClassNamesFile"/>), or an image-folder dataset's, one per class folder.
    /// </summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>
    /// Acquires the files if needed (see <see cref="MnistAcquirer"/>), then loads and preprocesses both
    /// splits with the reference article's constants, and reads the class names.
    /// </summary>
    /// <param name="directory">The trainer's <c>--data</c>; null for <c>LENET_DATA</c> or <c>./data/mnist</c>.</param>
    /// <param name="trainLimit">Keep only the first images of the training set (null: all 60,000).</param>
    /// <param name="testLimit">Keep only the first images of the test set (null: all 10,000).</param>
    /// <param name="imageSize">Side length of the preprocessed images; LeNet-5 takes 32.</param>
    /// <param name="acquirer">Null for a default <see cref="MnistAcquirer"/> without progress output.</param>
    /// <param name="verifyChecksums">
    /// Require the canonical MNIST SHA-256 of files that were already there (downloaded files are always verified).
    /// Null, the default: verify unless <paramref name="directory"/> is given, for a folder the user names may hold
    /// any dataset in MNIST format (Fashion-MNIST, KMNIST, EMNIST digits), while the default folders are MNIST's.
    /// </param>
    public static MnistData Load(string? directory = null, int? trainLimit = null, int? testLimit = null,
        int imageSize = MnistPreprocessing.DefaultImageSize, MnistAcquirer? acquirer = null,
            bool? verifyChecksums = null)
    {
        string resolved = (acquirer ?? new MnistAcquirer()).Acquire(directory);
        bool verify = verifyChecksums ?? string.IsNullOrWhiteSpace(directory);
        return new MnistData(resolved,
            MnistDataset.Load(resolved, train: true, trainLimit, imageSize, verifyChecksums: verify),
            MnistDataset.Load(resolved, train: false, testLimit, imageSize, verifyChecksums: verify),
            ClassNamesFile.Load(resolved));
    }
}
