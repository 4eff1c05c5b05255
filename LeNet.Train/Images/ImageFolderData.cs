// An image-folder dataset (train/<class>/*.png, test/<class>/…, as torchvision's ImageFolder) turned into the
// MnistData the IDX files give: each image converted as predict converts it, cached beside the images as IDX files.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using LeNet.Core.Files;

namespace LeNet.Train.Images;

/// <summary>
/// Reads <c>DIR/train/&lt;class&gt;/</c> and <c>DIR/test/&lt;class&gt;/</c>: the class names are the train folder's
/// subfolders in ordinal order, each image becomes a 28×28 MNIST-style digit (<see cref="MnistStyle"/>), and both
/// splits are then preprocessed exactly as MNIST's. Unreadable images are reported by name and skipped.
/// </summary>
public static class ImageFolderData
{
    public const string TrainFolder = "train", TestFolder = "test";

    /// <summary>The image files read, by extension (any case); other files are ignored.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm"];

    // Changes whenever the conversion does, so that a cache of the old conversion is never taken for the new one.
    private const string Conversion = "MnistStyle 28x28, 40 megapixels at most";

    private const string TooLarge = "scale it down";

    private sealed record Entry(bool Train, int Label, string Shown, string Path);

    /// <summary>
    /// Whether <paramref name="directory"/> holds a <c>train</c> folder with a class folder, or with images directly
    /// in it: those <see cref="Load"/> refuses in a sentence that says to sort them into class folders, where MNIST's
    /// acquirer would quietly download MNIST beside them.
    /// </summary>
    public static bool IsImageFolder(string directory)
    {
        var train = Path.Combine(directory, TrainFolder);
        try
        {
            return Directory.Exists(train)
                && (ClassFolders(train).Any() || Directory.EnumerateFiles(train).Any(IsImageName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Both splits, converted (or read from the cache when no image changed since) and preprocessed; the log tells
    /// what was read, each skipped image and how many. A dataset no run could use is an
    /// <see cref="MnistDataException"/> of one sentence.
    /// </summary>
    public static MnistData Load(string directory, Action<string> log,
        int imageSize = MnistPreprocessing.DefaultImageSize)
    {
        var root = Path.GetFullPath(directory);
        var shownRoot = FileText.Escape(root);
        List<Entry> entries;
        int ignored;
        IReadOnlyList<string> classes;
        try { (classes, entries, ignored) = List(root, shownRoot); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistDataException(
                $"The image folder {shownRoot} cannot be listed ({FileText.Escape(e.Message.TrimEnd('.'))})",
                "check its permissions.", e);
        }
        var others = ignored == 0 ? "" : $" ({ignored} other {(ignored == 1 ? "file" : "files")} ignored)";
        log($"Image folder {shownRoot}: {classes.Count} classes ({ClassList(classes)}), {entries.Count} images" +
            $"{others}.");

        var cacheFolder = Path.Combine(root, ImageFolderCache.FolderName);
        var source = Checksum(entries);
        var cached = ImageFolderCache.Read(cacheFolder, source, FileNames, log);
        var files = cached?.Files;
        var skipped = cached?.Skipped;
        var clock = Stopwatch.StartNew();
        if (files is null)
        {
            log("Converting them to 28×28 digits as predict does (grayscale, fitted and centred)…");
            (files, skipped) = Convert(entries, classes, shownRoot);
        }
        foreach (var message in skipped!) log($"Skipped {message}");
        var kept = $"{entries.Count - skipped.Count} of {entries.Count} images ({skipped.Count} skipped)";
        if (cached is not null)
            log($"Loaded {kept} from the cache in {FileText.Escape(cacheFolder)}.");
        else
        {
            var failure = ImageFolderCache.Write(cacheFolder, source, files, skipped);
            log($"Converted {kept} in {clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s; " +
                (failure is null ? $"cached in {FileText.Escape(cacheFolder)}."
                    : $"not cached, so the next run converts them again: {failure}"));
        }
        return new MnistData(root, Split(files, train: true, cacheFolder, classes.Count, imageSize),
            Split(files, train: false, cacheFolder, classes.Count, imageSize), classes);
    }

    /// <summary>The class names and every image of both splits, train first, each in ordinal order of class and
    /// name; the number of other files in the class folders.</summary>
    private static (IReadOnlyList<string> Classes, List<Entry> Entries, int Ignored) List(string root, string shownRoot)
    {
        var classes = ClassFolders(Path.Combine(root, TrainFolder)).ToArray();
        if (classes.Length is < 2 or > MnistDataset.MaxClasses)
            throw new MnistDataException(
                $"The image folder {shownRoot} has {classes.Length} class " +
                $"{(classes.Length == 1 ? "folder" : "folders")} in {TrainFolder}/, but a dataset needs 2 to " +
                $"{MnistDataset.MaxClasses}",
                $"put each class's images in a folder of its own, named for the class, under {TrainFolder}/.");
        foreach (var name in classes)
            if (FileText.ClassNameProblem(name) is { } problem)
                throw new MnistDataException(
                    $"The image folder {shownRoot} has a class folder whose name cannot be a class name " +
                    $"({TrainFolder}/{FileText.Printable(name)}: {problem})", "rename the folder.");
        var test = Path.Combine(root, TestFolder);
        var testClasses = Directory.Exists(test) ? ClassFolders(test).ToArray() : [];
        if (testClasses.FirstOrDefault(c => !classes.Contains(c)) is { } stranger)
            throw new MnistDataException(
                $"The image folder {shownRoot} has test images of class {FileText.Printable(stranger)}, which has no " +
                $"folder in {TrainFolder}/",
                $"the test classes must be the training classes, so add {TrainFolder}/{FileText.Printable(stranger)} " +
                $"or remove {TestFolder}/{FileText.Printable(stranger)}.");

        var entries = new List<Entry>();
        var ignored = 0;
        foreach (var (split, names) in new[] { (TrainFolder, classes), (TestFolder, testClasses) })
            foreach (var name in names)
            {
                var files = Directory.EnumerateFileSystemEntries(Path.Combine(root, split, name))
                    .Select(Path.GetFileName).OfType<string>().Where(f => !f.StartsWith('.'))
                    .Order(StringComparer.Ordinal).ToArray();
                var images = files.Where(IsImageName).ToArray();
                ignored += files.Length - images.Length;
                if (images.Length == 0 && split == TrainFolder)
                    throw new MnistDataException(
                        $"The class folder {shownRoot}/{TrainFolder}/{name} holds no images " +
                        $"({string.Join(", ", Extensions)})", "put the class's images there, or remove the folder.");
                entries.AddRange(images.Select(file => new Entry(split == TrainFolder, Array.IndexOf(classes, name),
                    FileText.Escape($"{split}/{name}/{file}"), Path.Combine(root, split, name, file))));
            }
        if (!entries.Any(e => !e.Train))
            throw new MnistDataException($"The image folder {shownRoot} has no test images",
                $"put some in {TestFolder}/<class>/, with class folders named as in {TrainFolder}/.");
        if ((long)entries.Count * MnistStyle.Size * MnistStyle.Size > Array.MaxLength)
            throw new MnistDataException(
                $"The image folder {shownRoot} holds {entries.Count:N0} images, more than the " +
                $"{Array.MaxLength / (MnistStyle.Size * MnistStyle.Size):N0} one dataset may have",
                "use a smaller dataset.");
        return (classes, entries, ignored);
    }

    /// <summary>The class folders of a split: its subfolders (links to folders included) but hidden ones, such as
    /// the cache or a notebook's checkpoints, in ordinal order.</summary>
    private static IEnumerable<string> ClassFolders(string split) =>
        Directory.EnumerateDirectories(split).Select(Path.GetFileName).OfType<string>()
            .Where(name => !name.StartsWith('.')).Order(StringComparer.Ordinal);

    private static bool IsImageName(string file) =>
        Extensions.Contains(Path.GetExtension(file).ToLowerInvariant());

    /// <summary>The class names for a log line: the first ten, then an ellipsis.</summary>
    internal static string ClassList(IReadOnlyList<string> classes) =>
        classes.Count <= 10 ? string.Join(", ", classes) : string.Join(", ", classes.Take(10)) + ", …";

    /// <summary>
    /// SHA-256 of the conversion and, for every image, its path, size and modification time: an image added,
    /// removed, renamed, moved to another class or rewritten changes it, and an untouched folder keeps it.
    /// </summary>
    private static string Checksum(IEnumerable<Entry> entries)
    {
        var listing = new StringBuilder(Conversion).Append('\n');
        foreach (var entry in entries)
        {
            long size = -1, modified = -1;
            try
            {
                var info = new FileInfo(entry.Path);
                (size, modified) = (info.Length, info.LastWriteTimeUtc.Ticks);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // read, and reported, later
            listing.Append(CultureInfo.InvariantCulture, $"{entry.Shown}\t{size}\t{modified}\n");
        }
        return System.Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(listing.ToString())));
    }

    /// <summary>The cache's files, in MNIST's names: train and test images and labels, and classes.txt.</summary>
    private static readonly string[] FileNames =
        [.. MnistFiles.AllParts.Select(MnistFiles.FileName), ClassNamesFile.FileName];

    private static string ImagesFile(bool train) => MnistFiles.FileName(MnistFiles.ImagesPart(train));

    private static string LabelsFile(bool train) => MnistFiles.FileName(MnistFiles.LabelsPart(train));

    /// <summary>Decodes and converts every image (on all cores), skipping those that fail; the IDX files and
    /// classes.txt to cache, and the skipped images' messages.</summary>
    private static (IReadOnlyDictionary<string, byte[]> Files, IReadOnlyList<string> Skipped) Convert(
        List<Entry> entries, IReadOnlyList<string> classes, string shownRoot)
    {
        var digits = new byte[entries.Count][];
        var errors = new string?[entries.Count];
        Parallel.For(0, entries.Count, i =>
        {
            var entry = entries[i];
            try
            {
                var image = DigitImage.Load(entry.Path, DigitImage.DefaultMaxMegapixels, entry.Shown, TooLarge);
                digits[i] = MnistStyle.Convert(image, entry.Shown);
            }
            catch (ImageException e) { errors[i] = e.Message; }
        });
        var kept = Enumerable.Range(0, entries.Count).Where(i => errors[i] is null).ToList();
        foreach (var label in Enumerable.Range(0, classes.Count))
            if (!kept.Any(i => entries[i].Train && entries[i].Label == label))
                throw new MnistDataException(
                    $"Every image of class {classes[label]} in {shownRoot}/{TrainFolder} was skipped, so the class " +
                    "has nothing to learn from", "replace its images with readable ones, or remove the folder.");
        if (!kept.Any(i => !entries[i].Train))
            throw new MnistDataException($"Every test image in {shownRoot}/{TestFolder} was skipped",
                "replace them with readable ones.");

        var files = new Dictionary<string, byte[]>();
        foreach (var train in new[] { true, false })
        {
            var split = kept.Where(i => entries[i].Train == train).ToArray();
            var pixels = split.SelectMany(i => digits[i]).ToArray();
            files[ImagesFile(train)] = IdxWriter.Encode([split.Length, MnistStyle.Size, MnistStyle.Size], pixels);
            var labels = split.Select(i => (byte)entries[i].Label).ToArray();
            files[LabelsFile(train)] = IdxWriter.Encode([split.Length], labels);
        }
        files[ClassNamesFile.FileName] = Encoding.UTF8.GetBytes(string.Join('\n', classes) + '\n');
        return (files, errors.OfType<string>().ToArray());
    }

    /// <summary>One split from the cached IDX files, through MNIST's own reader and checks, preprocessed with MNIST's
    /// constants for that split.</summary>
    private static MnistDataset Split(IReadOnlyDictionary<string, byte[]> files, bool train, string cacheFolder,
        int classes, int imageSize)
    {
        IdxFile Read(string name, int magic) =>
            IdxReader.Read(new MemoryStream(files[name]), FileText.Escape(Path.Combine(cacheFolder, name)), magic);
        return MnistDataset.FromIdx(Read(ImagesFile(train), IdxReader.ImagesMagic),
            Read(LabelsFile(train), IdxReader.LabelsMagic), limit: null, imageSize,
            train ? MnistPreprocessing.TrainMean : MnistPreprocessing.TestMean,
            train ? MnistPreprocessing.TrainStd : MnistPreprocessing.TestStd, classes);
    }
}
