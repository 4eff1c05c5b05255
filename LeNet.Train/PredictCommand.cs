using System.Text.Json.Serialization;
using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Core.Files;
using LeNet.Core.Serialization;
using LeNet.Train.Images;
using SkiaSharp;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>predict --model FILE IMAGE...: the class of each image and the probability of every class the model
/// knows (ten for MNIST, one per folder for an image-folder model), as text or JSON.</summary>
public static class PredictCommand
{
    /// <summary>One image's result: its class and probabilities, or why it could not be read.</summary>
    public sealed record Prediction(string Image, int? Label, string? Name, float[]? Probabilities, string? Error);

    public const string SavePreprocessedOption = "--save-preprocessed";
    private const string PreprocessedSuffix = "-28x28.png";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static Command Create()
    {
        var model = SavedModel.Option();
        var json = Described<bool>("--json", "Print the predictions as JSON.");
        var maxMegapixels = Parsed(Placeholder(Described("--max-megapixels",
            "The largest image read, in megapixels (its header is checked before decoding).",
            DigitImage.DefaultMaxMegapixels), "MP"), "a positive number", text =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
                && double.IsFinite(value) ? value : null);
        var savePreprocessed = Placeholder(NamingAPath(Described<string?>(SavePreprocessedOption,
            "Also write each image's 28×28 digit, as the model saw it, to this folder as a PNG named after the image " +
            "(seven.jpg: seven-28x28.png); the folder is created when only its last part is missing."), "folder"),
            "DIR");
        var images = new Argument<string[]>("IMAGE")
        {
            Description = "PNG, JPEG, BMP or PGM images of one digit each, of any size, dark on light or light on " +
                "dark; each is converted as MNIST's digits were (fitted into 20×20, centred by its centre of mass " +
                "in 28×28).",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("predict",
            "Predicts the class of each image with a trained model and prints the probability of each class.")
        {
            model, json, maxMegapixels, savePreprocessed, images,
        };
        // An image list takes any name, so a mistyped option (--jsno) would be read as a picture that is not there.
        images.Validators.Add(r =>
        {
            foreach (var token in r.Tokens.Select(t => t.Value).Where(v => v.StartsWith("--") && !File.Exists(v)))
                r.AddError(Cli.Unrecognized(token, command));
        });
        command.SetAction(parse =>
            Run(parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(json), Console.Out, Console.Error,
                parse.GetValue(maxMegapixels), parse.GetValue(savePreprocessed), Cli.IsQuiet(parse)));
        return command;
    }

    /// <summary>
    /// Predicts every image; an unreadable one is reported by name (on stderr, and in the JSON) while the others are
    /// still predicted. With <paramref name="saveFolder"/>, each predicted image's 28×28 digit is also written there
    /// (<see cref="PreprocessedName"/>), and a note on stderr says where unless <paramref name="quiet"/>. Exit code 0
    /// when all were predicted, 1 otherwise.
    /// </summary>
    public static int Run(string modelPath, IReadOnlyList<string> imagePaths, bool json, TextWriter log,
        TextWriter error, double maxMegapixels = DigitImage.DefaultMaxMegapixels, string? saveFolder = null,
        bool quiet = false) =>
        Cli.ExitOnUserError(error, e => e is ModelFormatException or CheckpointException or OptionException
            or FileWriteException, () =>
        {
            var saved = SavedModel.Load(modelPath);
            var folder = saveFolder is null ? null : OutputFolder.Create(saveFolder, SavePreprocessedOption).Full;
            if (folder is not null) OutputFolder.CheckWritable(folder, SavePreprocessedOption);
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var predictions = imagePaths.Select(path => Predict(saved, path, maxMegapixels, folder is null ? null
                : digit => SavePng(digit, Path.Combine(folder, PreprocessedName(path, names))))).ToList();
            if (json) log.WriteLine(JsonSerializer.Serialize(predictions, JsonOptions));
            foreach (var p in predictions)
            {
                if (p.Error is not null) error.WriteLine(p.Error);
                else if (!json)
                    log.WriteLine($"{FileText.Escape(p.Image)}: {p.Name} " +
                        $"({Percent(p.Probabilities![p.Label!.Value])})   " +
                        string.Join("  ", p.Probabilities.Select((v, c) =>
                            $"{saved.ClassNames[c]} {v.ToString("F4", CultureInfo.InvariantCulture)}")));
            }
            if (folder is not null && names.Count > 0 && !quiet)
                error.WriteLine($"Wrote the 28×28 digit{(names.Count == 1 ? "" : "s")} the model saw to " +
                    $"{FileText.Escape(folder)}.");
            return predictions.All(p => p.Error is null) ? 0 : 1;
        });

    /// <summary>Predicts one image; <paramref name="converted"/>, when given, receives its 28×28 digit first.</summary>
    public static Prediction Predict(SavedModel saved, string path,
        double maxMegapixels = DigitImage.DefaultMaxMegapixels, Action<byte[]>? converted = null)
    {
        byte[] digit;
        try { digit = MnistStyle.Convert(DigitImage.Load(path, maxMegapixels), FileText.Escape(path)); }
        catch (ImageException e) { return new Prediction(path, null, null, null, e.Message); }
        converted?.Invoke(digit);
        var probabilities = Probabilities(saved.Model, digit);
        var label = Evaluation.ArgMax(probabilities);
        return new Prediction(path, label, saved.ClassNames[label], probabilities, null);
    }

    /// <summary>
    /// The file name of an image's 28×28 digit: the image's own name without its extension, each character other than
    /// a letter, a digit, '-', '_' or '.' made '_' (no leading dot, at most 100 characters; "image" when nothing is
    /// left), then "-28x28.png", so that it never names the image itself; a name <paramref name="taken"/> already
    /// holds (ignoring case) gets "-2", "-3", ... before the suffix. The name returned is added to it.
    /// </summary>
    public static string PreprocessedName(string imagePath, ISet<string> taken)
    {
        var stem = new string([.. Path.GetFileNameWithoutExtension(imagePath)
            .Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]).TrimStart('.');
        stem = stem.Length == 0 ? "image" : stem[..Math.Min(stem.Length, 100)];
        var name = stem + PreprocessedSuffix;
        for (var n = 2; !taken.Add(name); n++) name = $"{stem}-{n}{PreprocessedSuffix}";
        return name;
    }

    /// <summary>Writes a 28×28 digit as an 8-bit grayscale PNG, atomically.</summary>
    public static void SavePng(byte[] digit, string path)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(MnistStyle.Size, MnistStyle.Size, SKColorType.Gray8,
            SKAlphaType.Opaque));
        digit.CopyTo(bitmap.GetPixelSpan());
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, png.SaveTo);
    }

    /// <summary>Softmax of the model's logits for a 28×28 MNIST-form digit, preprocessed as the test set is.</summary>
    public static float[] Probabilities(Module model, byte[] digit) => Serve.Predictor.Probabilities(model, [digit])[0];

    private static string Percent(float value) => (100 * value).ToString("F1", CultureInfo.InvariantCulture) + " %";
}
