using LeNet.Core.Files;
using System.Text;
using LeNet.Core.Models;
using LeNet.Core.Modules;

namespace LeNet.Train;

/// <summary>
/// A trained model read back for evaluate and predict: from the model.safetensors a run writes (its metadata names
/// the variant and the class names) or from a training checkpoint.
/// </summary>
public sealed record SavedModel(string Variant, Module Model, IReadOnlyList<string> ClassNames)
{
    /// <summary>The --model option of the commands that read a trained model.</summary>
    public static Option<string> Option() => new("--model")
    {
        Description = "The trained model: model.safetensors (or the checkpoint) that train wrote.", Required = true,
        HelpName = "FILE",
    };

    /// <summary>
    /// Reads <paramref name="path"/> (or decodes <see cref="Parse"/>'s bytes); every problem ends in a
    /// <see cref="ModelFormatException"/> or <see cref="CheckpointException"/> of one sentence.
    /// </summary>
    public static SavedModel Load(string path)
    {
        if (Directory.Exists(path) && File.Exists(Path.Combine(path, "model.safetensors")))
            path = Path.Combine(path, "model.safetensors");
        if (!File.Exists(path))
            throw new ModelFormatException(
                $"There is no model file at {path}; pass the model.safetensors (or checkpoint) that `train` wrote to " +
                "its --output folder.");
        byte[] bytes;
        try { bytes = ReadableFile.ReadAllBytes(path, MaxFileBytes); }
        catch (FileRefusedException e)
        {
            throw new ModelFormatException(
                $"Cannot read the model file {path} ({e.Message}); pass the model.safetensors that train wrote.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(
                $"Cannot read the model file {path} ({e.Message}); check that it exists and is readable.", e);
        }
        return Parse(bytes, path);
    }

    public static SavedModel Parse(byte[] bytes, string path)
    {
        if (bytes.AsSpan().StartsWith(Encoding.ASCII.GetBytes(Checkpoint.Magic)))
        {
            var checkpoint = TrainingCheckpoint.Parse(bytes, path);
            var classNames = checkpoint.ClassNames ?? ClassNamesFile.Digits;
            var model = Create(path, checkpoint.Recipe.Model, classNames.Count);
            checkpoint.Restore(model, optimizer: null);
            return new SavedModel(checkpoint.Recipe.Model, model, classNames);
        }
        var (tensors, metadata) = SafeTensors.Parse(bytes, path);
        if (metadata.TryGetValue("format_version", out var version) && version != FormatVersion)
            throw new ModelFormatException(
                $"The model file {path} has format version '{FileText.Printable(version)}', but this build reads " +
                $"version {FormatVersion}; use the build that wrote it, or train again.");
        if (!metadata.TryGetValue("model", out var variant))
            throw new ModelFormatException(
                $"The model file {path} does not say which model it holds (no 'model' in its metadata); use a " +
                "model.safetensors written by LeNet.Train.");
        // The class names say how many outputs the model has (MNIST's ten digits when a file names none); the weights
        // must then fit that many, which LoadStateDict checks shape by shape.
        var names = metadata.TryGetValue("class_names", out var json) ? ParseClassNames(json, path)
            : ClassNamesFile.Digits;
        var created = Create(path, variant, names.Count);
        try { created.LoadStateDict(tensors); }
        catch (ArgumentException e)
        {
            throw new ModelFormatException(
                $"The model file {path} does not fit model {variant} with {names.Count} classes, one per class name " +
                $"({e.Message.TrimEnd('.')}); use a model.safetensors written by LeNet.Train.", e);
        }
        return new SavedModel(variant, created, names);
    }

    /// <summary>The model's class names, 2 to <see cref="MnistDataset.MaxClasses"/> of them, each checked
    /// (<see cref="FileText.ClassNameProblem"/>): they are printed by evaluate and predict, so a name with an escape
    /// sequence would reach the terminal.</summary>
    internal static IReadOnlyList<string> ParseClassNames(string json, string path)
    {
        string[]? names;
        try { names = JsonSerializer.Deserialize<string[]>(json); }
        catch (JsonException) { names = null; }
        if (names is not { Length: >= 2 and <= MnistDataset.MaxClasses })
            throw new ModelFormatException(
                $"The model file {path} does not hold a list of class names (2 to {MnistDataset.MaxClasses}) in its " +
                "metadata; use a model.safetensors written by LeNet.Train.");
        for (var i = 0; i < names.Length; i++)
            if (FileText.ClassNameProblem(names[i] ?? "") is { } problem)
                throw new ModelFormatException(
                    $"The model file {path} has a class name that cannot be printed (class {i}: {problem}); use a " +
                    "model.safetensors written by LeNet.Train.");
        return names;
    }

    private const string FormatVersion = "1";

    // A model or a checkpoint (the model and Adam's moments): a few megabytes at most for LeNet.
    private const long MaxFileBytes = 1L << 30;

    private static Module Create(string path, string variant, int classes) =>
        ModelVariants.IsKnown(variant) ? ModelVariants.Create(variant, classes)
            : throw new ModelFormatException(
                $"The model file {path} holds model '{FileText.Printable(variant)}', which this build does not know " +
                $"(it knows {string.Join(", ", ModelVariants.Names)}); use a newer build or another model file.");
}
