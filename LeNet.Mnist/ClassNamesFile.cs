using LeNet.Core.Files;

namespace LeNet.Mnist;

/// <summary>
/// The names of a dataset's ten classes: one per line, in label order, from an optional <c>classes.txt</c> beside
/// the IDX files (Fashion-MNIST: T-shirt/top, Trouser, ...); the digits 0..9 when there is none.
/// </summary>
public static class ClassNamesFile
{
    public const string FileName = "classes.txt";

    // Ten names of at most 64 characters fit many times over; a larger file is not a list of class names.
    private const int MaxBytes = 64 * 1024;

    /// <summary>"0".."9": MNIST's labels are their own names.</summary>
    public static IReadOnlyList<string> Digits { get; } = Enumerable.Range(0, MnistDataset.DigitClasses).Select(d =>
        d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// The names in <paramref name="directory"/>/classes.txt, or <see cref="Digits"/> when the file is absent.
    /// </summary>
    /// <exception cref="MnistDataException">The file exists but does not hold exactly ten non-empty names.</exception>
    public static IReadOnlyList<string> Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return Digits;
        string[] lines;
        try { lines = ReadableFile.ReadAllText(path, MaxBytes).Split('\n'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistDataException($"{path}: cannot be read ({e.Message}); fix it or remove it to use the " +
                "digits as class names.", e);
        }
        var names = lines.Select(l => l.Trim()).ToList();
        while (names.Count > 0 && names[^1].Length == 0) names.RemoveAt(names.Count - 1);
        if (names.Count != MnistDataset.DigitClasses || names.Any(n => n.Length == 0))
            throw new MnistDataException($"{path}: holds {names.Count(n => n.Length > 0)} class names on " +
                $"{names.Count} lines, but the labels are 0..9; write exactly ten names, one per line in label " +
                "order, or remove the file.");
        for (var i = 0; i < names.Count; i++)
            if (FileText.ClassNameProblem(names[i]) is { } problem)
                throw new MnistDataException($"{path}: the name on line {i + 1} cannot be a class name ({problem}); " +
                    $"write names of at most {FileText.MaxClassNameLength} printable characters, or remove the file.");
        return names;
    }
}
