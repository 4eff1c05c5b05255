using LeNet.Core.Files;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>
/// summary [--model NAME|FILE]: torchinfo's table of a model variant or of a trained model (layers, output shapes,
/// parameters, multiply-adds), to see what a model is before training it or after.
/// </summary>
public static class SummaryCommand
{
    public static Command Create()
    {
        var model = Placeholder(Described("--model",
            $"A model variant ({string.Join(", ", ModelVariants.Names)}) or a trained model: the model.safetensors " +
            "(or checkpoint) that train wrote.", ModelVariants.Names[0]), "NAME|FILE");
        model.CompletionSources.Add([.. ModelVariants.Names]);
        var command = new Command("summary",
            "Prints a model's layers with their output shapes, parameters and multiply-adds for one " +
            $"{MnistPreprocessing.DefaultImageSize}×{MnistPreprocessing.DefaultImageSize} image, and the totals, " +
            "as torchinfo does.")
        {
            model,
        };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>
    /// Prints the summary of the variant <paramref name="model"/> names, else of the model file it names; a name that
    /// is neither, or a file that is not a model, ends in one sentence on stderr and exit code 1.
    /// </summary>
    public static int Run(string model, TextWriter log, TextWriter error) =>
        Cli.ExitOnUserError(error, e => e is OptionException or ModelFormatException or CheckpointException, () =>
        {
            var size = MnistPreprocessing.DefaultImageSize;
            ModelSummary.Of(Load(model), 1, size, size).WriteTable(log);
            return 0;
        });

    private static Module Load(string model)
    {
        if (ModelVariants.IsKnown(model)) return ModelVariants.Create(model);
        if (File.Exists(model) || Directory.Exists(model)) return SavedModel.Load(model).Model;
        var hint = NearestName.To(model, ModelVariants.Names) is { } nearest ? $" (did you mean {nearest}?)" : "";
        throw new OptionException(
            $"--model {FileText.Printable(model)} is neither a model variant nor a model file{hint}; name one of " +
            $"{string.Join(", ", ModelVariants.Names)} or the model.safetensors that train wrote.");
    }
}
