namespace LeNet.Mnist;

/// <summary>
/// The names and canonical checksums of the four MNIST files, finding them in a directory, and reading
/// them with verification.
/// </summary>
public static class MnistFiles
{
    public static IReadOnlyList<MnistPart> AllParts { get; } =
        [MnistPart.TrainImages, MnistPart.TrainLabels, MnistPart.TestImages, MnistPart.TestLabels];

    /// <summary>The canonical name of the decompressed file, e.g. <c>train-images-idx3-ubyte</c>.</summary>
    public static string FileName(MnistPart part) => part switch
    {
        MnistPart.TrainImages => "train-images-idx3-ubyte",
        MnistPart.TrainLabels => "train-labels-idx1-ubyte",
        MnistPart.TestImages => "t10k-images-idx3-ubyte",
        MnistPart.TestLabels => "t10k-labels-idx1-ubyte",
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    /// <summary>
    /// SHA-256 (lowercase hex) of the decompressed canonical file, as published with the dataset.
    /// Compressed files differ between mirrors (gzip headers carry timestamps), so only the decompressed
    /// bytes have one true checksum.
    /// </summary>
    public static string Sha256(MnistPart part) => part switch
    {
        MnistPart.TrainImages => "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        MnistPart.TrainLabels => "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        MnistPart.TestImages => "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        MnistPart.TestLabels => "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    public static bool IsImages(MnistPart part) => part is MnistPart.TrainImages or MnistPart.TestImages;

    public static MnistPart ImagesPart(bool train) => train ? MnistPart.TrainImages : MnistPart.TestImages;

    public static MnistPart LabelsPart(bool train) => train ? MnistPart.TrainLabels : MnistPart.TestLabels;

    /// <summary>
    /// The file names accepted for <paramref name="part"/>, in the order they are looked for: the
    /// canonical name, raw then gzip, then the common variant with a dot (<c>train-images.idx3-ubyte</c>).
    /// </summary>
    public static IReadOnlyList<string> AcceptedFileNames(MnistPart part)
    {
        string canonical = FileName(part);
        // "train-images-idx3-ubyte" -> "train-images.idx3-ubyte": the dot replaces the last dash before "idx".
        int idx = canonical.IndexOf("-idx", StringComparison.Ordinal);
        string dotted = string.Concat(canonical.AsSpan(0, idx), ".", canonical.AsSpan(idx + 1));
        return [canonical, canonical + ".gz", dotted, dotted + ".gz"];
    }

    /// <summary>
    /// The path of the first accepted file name for <paramref name="part"/> present in <paramref name="directory"/>, or
    /// null.
    /// </summary>
    public static string? Find(string directory, MnistPart part)
    {
        foreach (string name in AcceptedFileNames(part))
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path))
                return path;
        }
        return null;
    }

    /// <summary>
    /// Finds and reads <paramref name="part"/> in <paramref name="directory"/>; with
    /// <paramref name="verifyChecksum"/> (the default) the decompressed bytes must match the canonical
    /// MNIST checksum. Pass false for other datasets in MNIST format, such as Fashion-MNIST.
    /// </summary>
    public static IdxFile Read(string directory, MnistPart part, bool verifyChecksum = true)
    {
        string path = Find(directory, part)
            ?? throw new MnistDataException(
                $"{Path.GetFullPath(directory)}: no {FileName(part)} (looked for " +
                    $"{string.Join(", ", AcceptedFileNames(part))}); " +
                "put the four MNIST files there, gzip-compressed or raw, or point --data / LENET_DATA at a " +
                    "directory that holds them.");
        IdxFile file = IsImages(part) ? IdxReader.ReadImages(path) : IdxReader.ReadLabels(path);
        if (verifyChecksum)
            Verify(file, part);
        return file;
    }

    /// <summary>
    /// Throws <see cref="MnistDataException"/> unless <paramref name="file"/> is byte for byte the canonical <paramref
    /// name="part"/>.
    /// </summary>
    public static void Verify(IdxFile file, MnistPart part)
    {
        string actual = Convert.ToHexStringLower(file.Sha256);
        if (actual != Sha256(part))
            throw new MnistDataException(
                $"{file.Name}: the SHA-256 of its decompressed contents is {actual}, not {Sha256(part)} as for the " +
                    $"canonical MNIST {FileName(part)}",
                "delete the file so that it is downloaded again, or, for another dataset in MNIST format, load it " +
                    "without checksum verification.");
    }
}
