using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>evaluate --model FILE [--data DIR]: accuracy, loss, precision, recall, F1 and confusions on a test set.
/// </summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = SavedModel.Option();
        var data = Placeholder(Described<string?>("--data",
            "Folder with the MNIST-format test files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzip or raw) " +
            "and an optional classes.txt. Default: ./data/mnist, downloading MNIST there if needed."), "DIR");
        var testLimit = Positive(Placeholder(
            Described<int?>("--test-limit", "Evaluate on the first N test images only."), "N"));
        var json = Described<bool>("--json", "Print the result as JSON instead of tables.");
        var output = Placeholder(NamingAPath(Described<string?>("--output",
            "Also write the JSON to this file (- or /dev/stdout: print it, as --json)."), "file"), "FILE");
        var device = DeviceOption.Create(
            "Where to run the model: cpu, cuda (the first NVIDIA GPU) or auto (the GPU when there is one, else the " +
            "CPU).");
        var command = new Command("evaluate",
            "Evaluates a trained model on a test set: accuracy and mean loss, per-class precision, recall and F1 " +
            "with their macro and weighted averages, and the confusion matrix, as tables " +
                "(percent) or JSON (fractions).")
        {
            model, data, testLimit, json, output, device,
        };
        command.SetAction(parse =>
            Run(parse.GetValue(model)!, parse.GetValue(data), parse.GetValue(testLimit), parse.GetValue(json),
            parse.GetValue(output), Console.Out, Console.Error, parse.GetValue(device)!, Cli.IsQuiet(parse)));
        return command;
    }

    /// <summary>
    /// Runs the evaluation on the device <paramref name="device"/> names (cpu, cuda or auto); user errors end in one
    /// sentence on stderr and exit code 1, a missing GPU before the data is read. Notes (the device chosen, a download)
    /// go to stderr too, unless <paramref name="quiet"/>, so that stdout holds the result alone.
    /// </summary>
    public static int Run(string modelPath, string? dataDirectory, int? testLimit, bool json, string? outputFile,
        TextWriter log, TextWriter error, string device = "cpu", bool quiet = false) =>
        Run(modelPath, dataDirectory, testLimit, json, outputFile, log, error,
            note => DeviceOption.Open(device, Device.Cpu, "evaluating", note), quiet);

    /// <summary>The evaluation on the device <paramref name="openDevice"/> gives (it may write a note).</summary>
    public static int Run(string modelPath, string? dataDirectory, int? testLimit, bool json, string? outputFile,
        TextWriter log, TextWriter error, Func<TextWriter, Device> openDevice, bool quiet = false) =>
        Cli.ExitOnUserError(error, e => e is OptionException or MnistDataException or ModelFormatException
            or CheckpointException or IOException or UnauthorizedAccessException, () =>
        {
            // --output - (or /dev/stdout) is standard output, the log here: the JSON is printed there once, as --json.
            if (outputFile is not null && AtomicFile.IsStandardOutput(outputFile)) (json, outputFile) = (true, null);
            if (outputFile is not null) OutputFolder.CheckFile(outputFile, "--output");
            var saved = SavedModel.Load(modelPath);
            var notes = quiet ? TextWriter.Null : error;
            var device = openDevice(notes);
            var (directory, test, classNames) = DataFolder.LoadTest(dataDirectory, testLimit, saved.ClassNames,
                message => notes.WriteLine(message));
            OptionException.ThrowIfAbove("--test-limit", testLimit, test.Count, "test");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var evaluation = Evaluation.Run(device.IsCpu ? saved.Model : saved.Model.To(device), test, classNames);
            // A note for a person reading the table; a script asking for JSON gets the JSON alone.
            if (!json)
                notes.WriteLine($"Evaluated {test.Count:N0} images in {clock.Elapsed.TotalSeconds:F2} s " +
                    $"({test.Count / clock.Elapsed.TotalSeconds:N0} images/s, batches of 1,000, first call included).");
            var text = evaluation.ToJson(saved.Variant);
            if (outputFile is not null) AtomicFile.WriteAllText(outputFile, text);
            if (json)
                log.WriteLine(text);
            else
            {
                var on = device.IsCpu ? "" : $", on {device.Description}";
                log.WriteLine($"{Trainer.DisplayName(saved.Variant)} from {Path.GetFullPath(modelPath)} on the test " +
                    $"set in {directory}{on}:");
                evaluation.WriteTable(log);
            }
            return 0;
        });
}
