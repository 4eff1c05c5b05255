using System.Text.Json.Serialization;
using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Core.Files;
using LeNet.Train.Images;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>predict --model FILE IMAGE...: the class of each image and the probability of every class the model
/// knows (ten for MNIST, one per folder for an image-folder model), as text or JSON.</summary>
public static class PredictCommand
{
    /// <summary>One image's result: its class and probabilities, or why it could not be read.</summary>
    public sealed record Prediction(string Image, int? Label, string? Name, float[]? Probabilities, string? Error);

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
            model, json, maxMegapixels, images,
        };
        // An image list takes any name, so a mistyped option (--jsno) would be read as a picture that is not there.
        images.Validators.Add(r =>
        {
            foreach (var token in r.Tokens.Select(t => t.Value).Where(v => v.StartsWith("--") && !File.Exists(v)))
                r.AddError(Cli.Unrecognized(token, command));
        });
        command.SetAction(parse =>
            Run(parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(json), Console.Out, Console.Error,
                parse.GetValue(maxMegapixels)));
        return command;
    }

    /// <summary>
    /// Predicts every image; an unreadable one is reported by name (on stderr, and in the JSON) while the others are
    /// still predicted. Exit code 0 when all were predicted, 1 otherwise.
    /// </summary>
    public static int Run(string modelPath, IReadOnlyList<string> imagePaths, bool json, TextWriter log,
        TextWriter error, double maxMegapixels = DigitImage.DefaultMaxMegapixels) =>
        Cli.ExitOnUserError(error, e => e is ModelFormatException or CheckpointException, () =>
        {
            var saved = SavedModel.Load(modelPath);
            var predictions = imagePaths.Select(path => Predict(saved, path, maxMegapixels)).ToList();
            if (json) log.WriteLine(JsonSerializer.Serialize(predictions, JsonOptions));
            foreach (var p in predictions)
            {
                if (p.Error is not null) error.WriteLine(p.Error);
                else if (!json)
                    log.WriteLine($"{FileText.Escape(p.Image)}: {p.Name} ({Percent(p.Probabilities![p.Label!.Value])})   " +
                        string.Join("  ", p.Probabilities.Select((v, c) =>
                            $"{saved.ClassNames[c]} {v.ToString("F4", CultureInfo.InvariantCulture)}")));
            }
            return predictions.All(p => p.Error is null) ? 0 : 1;
        });

    public static Prediction Predict(SavedModel saved, string path,
        double maxMegapixels = DigitImage.DefaultMaxMegapixels)
    {
        byte[] digit;
        try { digit = MnistStyle.Convert(DigitImage.Load(path, maxMegapixels), FileText.Escape(path)); }
        catch (ImageException e) { return new Prediction(path, null, null, null, e.Message); }
        var probabilities = Probabilities(saved.Model, digit);
        var label = Evaluation.ArgMax(probabilities);
        return new Prediction(path, label, saved.ClassNames[label], probabilities, null);
    }

    /// <summary>Softmax of the model's logits for a 28×28 MNIST-form digit, preprocessed as the test set is.</summary>
    public static float[] Probabilities(Module model, byte[] digit)
    {
        var size = MnistPreprocessing.DefaultImageSize;
        var input = new float[size * size];
        MnistPreprocessing.Preprocess(digit, 1, MnistStyle.Size, size, MnistPreprocessing.TestMean,
            MnistPreprocessing.TestStd, input);
        var wasTraining = model.Training;
        model.Eval();
        float[] logits;
        using (GradientTape.NoGrad()) logits = model.Forward(Tensor.FromArray(input, 1, 1, size, size)).ToArray();
        model.Train(wasTraining);
        var max = logits.Max();
        var exponentials = logits.Select(v => MathF.Exp(v - max)).ToArray();
        var sum = exponentials.Sum();
        return exponentials.Select(v => v / sum).ToArray();
    }

    private static string Percent(float value) => (100 * value).ToString("F1", CultureInfo.InvariantCulture) + " %";
}
