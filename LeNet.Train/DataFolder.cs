// What --data names: an image-folder dataset (train/<class>/…, test/<class>/…) or MNIST-format IDX files. The one
// place train and evaluate decide which, so that both read a folder the same way.
using LeNet.Core.Files;
using LeNet.Train.Images;

namespace LeNet.Train;

/// <summary>Loads the data of <c>--data</c>: <see cref="ImageFolderData"/> where the folder holds <c>train/</c> with
/// class folders, else MNIST's IDX files through <see cref="MnistData.Load"/> and its acquirer.</summary>
public static class DataFolder
{
    /// <summary>Both splits, preprocessed; <paramref name="verifyChecksums"/> applies to MNIST's files only.</summary>
    public static MnistData Load(string? directory, Action<string> log, bool verifyChecksums) =>
        directory is not null && ImageFolderData.IsImageFolder(directory)
            ? ImageFolderData.Load(directory, log)
            : MnistData.Load(directory, acquirer: new MnistAcquirer(log: log), verifyChecksums: verifyChecksums);

    /// <summary>
    /// The test split for evaluate, with the class names to report it under: an image folder's own (they must be the
    /// model's), or MNIST's classes.txt when the folder has one, else the model's. Only MNIST's test files are fetched;
    /// a model with another number of classes than the data is refused in one sentence.
    /// </summary>
    public static (string Directory, MnistDataset Test, IReadOnlyList<string> ClassNames) LoadTest(string? directory,
        int? testLimit, IReadOnlyList<string> modelClassNames, Action<string> log)
    {
        if (directory is not null && ImageFolderData.IsImageFolder(directory))
        {
            var data = ImageFolderData.Load(directory, log);
            if (!data.ClassNames.SequenceEqual(modelClassNames))
                throw new OptionException(
                    $"The model knows the classes {ImageFolderData.ClassList(modelClassNames)}, but the image " +
                    $"folder {FileText.Escape(data.Directory)} holds {ImageFolderData.ClassList(data.ClassNames)}; " +
                    "evaluate on a folder with the model's classes, or pass the model trained on this one.");
            return (data.Directory, testLimit is { } limit ? data.Test.Take(limit) : data.Test, data.ClassNames);
        }
        var resolved = new MnistAcquirer(log: log)
            .Acquire(directory, parts: [MnistPart.TestImages, MnistPart.TestLabels]);
        if (modelClassNames.Count != MnistDataset.DigitClasses)
            throw new OptionException(
                $"The model knows {modelClassNames.Count} classes ({ImageFolderData.ClassList(modelClassNames)}), " +
                $"but {FileText.Escape(resolved)} holds MNIST-format data of 10; evaluate on the image folder it was " +
                "trained on.");
        var test = MnistDataset.Load(resolved, train: false, testLimit,
            verifyChecksums: string.IsNullOrWhiteSpace(directory));
        // The data's own class names win; a folder without classes.txt takes those the model was trained with.
        var classNames = File.Exists(Path.Combine(resolved, ClassNamesFile.FileName))
            ? ClassNamesFile.Load(resolved) : modelClassNames;
        return (resolved, test, classNames);
    }
}
