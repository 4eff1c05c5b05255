namespace LeNet.Mnist;

/// <summary>
/// One split of MNIST, preprocessed and ready to train on: <see cref="Images"/> is
/// [Count, 1, ImageSize, ImageSize] float32, <see cref="Labels"/> the digit of each image.
/// </summary>
public sealed class MnistDataset
{
    /// <summary>MNIST labels are the digits 0..9.</summary>
    public const int DigitClasses = 10;

    /// <summary>The most classes a dataset may have: an IDX labels file holds one byte per label.</summary>
    public const int MaxClasses = 256;

    public MnistDataset(float[] images, int[] labels, int imageSize, int classes = DigitClasses)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        if (images.LongLength != (long)labels.Length * imageSize * imageSize)
            throw new ArgumentException($"{images.Length} image values do not make {labels.Length} images of " +
                $"{imageSize}×{imageSize}.", nameof(images));
        Images = images;
        Labels = labels;
        ImageSize = imageSize;
        Classes = classes;
    }

    /// <summary>[Count, 1, ImageSize, ImageSize], row-major.</summary>
    public float[] Images { get; }

    public int[] Labels { get; }

    public int Count => Labels.Length;

    public int ImageSize { get; }

    /// <summary>Floats per image: 1 · ImageSize · ImageSize.</summary>
    public int ImageLength => ImageSize * ImageSize;

    public int Classes { get; }

    /// <summary>
    /// Reads, checks and preprocesses the training or test split from <paramref name="directory"/>.
    /// </summary>
    /// <param name="limit">Keep only the first <paramref name="limit"/> images (null: all); only those are
    /// preprocessed.</param>
    /// <param name="imageSize">Output side length; the images are resized bilinearly when it differs from the
    /// file's.</param>
    /// <param name="mean">Normalisation mean; null takes the reference article's constant for the split.</param>
    /// <param name="std">Normalisation standard deviation; null takes the reference article's constant for the
    /// split.</param>
    /// <param name="verifyChecksums">Require the canonical MNIST SHA-256; pass false for other datasets in MNIST
    /// format.</param>
    public static MnistDataset Load(string directory, bool train, int? limit = null,
        int imageSize = MnistPreprocessing.DefaultImageSize,
        float? mean = null, float? std = null, bool verifyChecksums = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        IdxFile images = MnistFiles.Read(directory, MnistFiles.ImagesPart(train), verifyChecksums);
        IdxFile labels = MnistFiles.Read(directory, MnistFiles.LabelsPart(train), verifyChecksums);
        return FromIdx(images, labels, limit, imageSize,
            mean ?? (train ? MnistPreprocessing.TrainMean : MnistPreprocessing.TestMean),
            std ?? (train ? MnistPreprocessing.TrainStd : MnistPreprocessing.TestStd));
    }

    /// <summary>
    /// Checks that decoded images and labels belong together and preprocesses them; every label must be below
    /// <paramref name="classes"/> (MNIST's ten digits unless an image-folder dataset says otherwise).
    /// </summary>
    public static MnistDataset FromIdx(IdxFile images, IdxFile labels, int? limit, int imageSize, float mean, float std,
        int classes = DigitClasses)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes, MaxClasses);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (limit is < 0)
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "The limit must not be negative.");
        if (images.Dimensions.Count != 3 || labels.Dimensions.Count != 1)
            throw new ArgumentException("Expected a 3-dimensional images file and a 1-dimensional labels file.");
        int rows = images.Dimensions[1], columns = images.Dimensions[2];
        if (rows != columns)
            throw new MnistDataException($"{images.Name}: the images are {rows}×{columns}, but only square images " +
                "are supported; use a dataset of square images.");
        if (images.Count != labels.Count)
            throw new MnistDataException($"{images.Name} holds {images.Count:N0} images but {labels.Name} holds " +
                $"{labels.Count:N0} labels; use an images file and a labels file of the same split.");

        // Every label is checked, not just the kept ones: a damaged file should not pass because of a limit.
        int bad = classes == MaxClasses ? -1 : labels.Data.AsSpan().IndexOfAnyInRange((byte)classes, byte.MaxValue);
        if (bad >= 0)
            throw new MnistDataException($"{labels.Name}: label {bad} is {labels.Data[bad]}, " +
                (classes == DigitClasses ? "but MNIST labels are digits 0..9; use a labels file of a 10-class dataset."
                : $"but the dataset has {classes} classes (0..{classes - 1}); use the labels file written with it."));
        int count = Math.Min(images.Count, limit ?? int.MaxValue);
        // Preprocessing turns each image into imageSize² floats whatever its own size. Refusing images under half that
        // side, and sets whose floats would not fit in one array, keeps the floats within 16 times the file's bytes, so
        // that a small file of many tiny images cannot make the loader allocate gigabytes.
        if (2 * rows < imageSize)
            throw new MnistDataException($"{images.Name}: the images are {rows}×{columns}, too small to scale to " +
                $"{imageSize}×{imageSize} (at least {(imageSize + 1) / 2}×{(imageSize + 1) / 2} is needed); use a " +
                "dataset of larger images.");
        if ((long)count * imageSize * imageSize > Array.MaxLength)
            throw new MnistDataException($"{images.Name}: {count:N0} images of {imageSize}×{imageSize} floats are " +
                $"more than one array holds (at most {Array.MaxLength / ((long)imageSize * imageSize):N0}); use " +
                "--limit or a smaller dataset.");
        var digits = new int[count];
        for (int i = 0; i < count; i++)
            digits[i] = labels.Data[i];
        float[] pixels = MnistPreprocessing.Preprocess(images.Data, count, rows, imageSize, mean, std);
        return new MnistDataset(pixels, digits, imageSize, classes)
        {
            FilesSha256 = Combine(images.Sha256, labels.Sha256),
        };
    }

    /// <summary>
    /// SHA-256 of the images file's and the labels file's SHA-256 (of their decompressed contents, so gzip or raw
    /// alike): which files this set came from, whatever its limit; null for a set not read from files.
    /// </summary>
    public byte[]? FilesSha256 { get; init; }

    internal static byte[] Combine(params byte[][] hashes) =>
        System.Security.Cryptography.SHA256.HashData(hashes.SelectMany(h => h).ToArray());

    /// <summary>
    /// Holds out <paramref name="count"/> images for validation, the same share of every class (largest remainders
    /// settle the rounding), chosen within each class by a Fisher–Yates shuffle of <c>new Random(seed)</c>; both parts
    /// keep file order. The same seed and set give the same split on any machine, so a checkpoint needs only the seed.
    /// </summary>
    public (MnistDataset Train, MnistDataset Validation) SplitValidation(int count, int seed)
    {
        if (count < 1 || count >= Count)
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"A validation set must hold from 1 to {Count - 1} of the {Count} images.");
        var byClass = Enumerable.Range(0, Classes).Select(c => new List<int>()).ToArray();
        for (var i = 0; i < Count; i++) byClass[Labels[i]].Add(i);
        var exact = byClass.Select(members => (double)count * members.Count / Count).ToArray();
        var taken = exact.Select(e => (int)Math.Floor(e)).ToArray();
        foreach (var c in Enumerable.Range(0, Classes).OrderByDescending(c => exact[c] - taken[c]).ThenBy(c => c)
                     .Take(count - taken.Sum()))
            taken[c]++;
        var random = new Random(seed);
        var held = new bool[Count];
        for (var c = 0; c < Classes; c++)
        {
            var members = byClass[c].ToArray();
            for (var i = members.Length - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (members[i], members[j]) = (members[j], members[i]);
            }
            foreach (var index in members.AsSpan(0, taken[c])) held[index] = true;
        }
        return (Select(i => !held[i]), Select(i => held[i]));
    }

    private MnistDataset Select(Func<int, bool> keep)
    {
        var indices = Enumerable.Range(0, Count).Where(keep).ToArray();
        var images = new float[indices.Length * ImageLength];
        for (var k = 0; k < indices.Length; k++)
            Images.AsSpan(indices[k] * ImageLength, ImageLength).CopyTo(images.AsSpan(k * ImageLength));
        return new MnistDataset(images, indices.Select(i => Labels[i]).ToArray(), ImageSize, Classes)
        {
            FilesSha256 = FilesSha256,
        };
    }

    /// <summary>A copy holding the first <paramref name="count"/> images (all of them if there are fewer).</summary>
    public MnistDataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new MnistDataset(Images.AsSpan(0, count * ImageLength).ToArray(),
            Labels.AsSpan(0, count).ToArray(), ImageSize, Classes)
        {
            FilesSha256 = FilesSha256,
        };
    }
}
