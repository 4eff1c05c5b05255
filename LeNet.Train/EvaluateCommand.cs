using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>evaluate --model FILE [--data DIR]: accuracy, precision, recall and confusions on a test set.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = SavedModel.Option();
        var data = Described<string?>("--data",
            "Folder with the MNIST-format test files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzip or raw) " +
            "and an optional classes.txt. Default: $LENET_DATA, else ./data/mnist, downloading MNIST there if needed.");
        var testLimit = Positive(Described<int?>("--test-limit", "Evaluate on the first N test images only."));
        var json = Described<bool>("--json", "Print the result as JSON instead of tables.");
        var output = NamingAPath(Described<string?>("--output",
            "Also write the JSON to this file (- or /dev/stdout: print it, as --json)."), "file");
        var device = DeviceOption.Create(
            "Where to run the model: cpu, cuda (the first NVIDIA GPU) or auto (the GPU when there is one, else the " +
            "CPU).");
        var command = new Command("evaluate",
            "Evaluates a trained model on a test set: accuracy, per-class precision and recall, and the confusion " +
            "matrix, as tables or JSON.")
        {
            model, data, testLimit, json, output, device,
        };
        command.SetAction(parse =>
            Run(parse.GetValue(model)!, parse.GetValue(data), parse.GetValue(testLimit), parse.GetValue(json),
            parse.GetValue(output), Console.Out, Console.Error, parse.GetValue(device)!));
        return command;
    }

    /// <summary>
    /// Runs the evaluation on the device <paramref name="device"/> names (cpu, cuda or auto); user errors end in one
    /// sentence on stderr and exit code 1, a missing GPU before the data is read.
    /// </summary>
    public static int Run(string modelPath, string? dataDirectory, int? testLimit, bool json, string? outputFile,
        TextWriter log, TextWriter error, string device = "cpu") =>
        Run(modelPath, dataDirectory, testLimit, json, outputFile, log, error,
            note => DeviceOption.Open(device, Device.Cpu, "evaluating", note));

    /// <summary>The evaluation on the device <paramref name="openDevice"/> gives (it may write a note).</summary>
    public static int Run(string modelPath, string? dataDirectory, int? testLimit, bool json, string? outputFile,
        TextWriter log, TextWriter error, Func<TextWriter, Device> openDevice) =>
        Cli.ExitOnUserError(error, e => e is OptionException or MnistDataException or ModelFormatException
            or CheckpointException or IOException or UnauthorizedAccessException, () =>
        {
            // --output - (or /dev/stdout) is standard output, the log here: the JSON is printed there once, as --json.
            if (outputFile is not null && AtomicFile.IsStandardOutput(outputFile)) (json, outputFile) = (true, null);
            if (outputFile is not null) OutputFolder.CheckFile(outputFile, "--output");
            var saved = SavedModel.Load(modelPath);
            // With --json, standard output carries only the JSON: a note on the device goes to standard error.
            var device = openDevice(json ? error : log);
            var directory = new MnistAcquirer(log: json ? null : message => log.WriteLine(message))
                .Acquire(dataDirectory, parts: [MnistPart.TestImages, MnistPart.TestLabels]);
            var test = MnistDataset.Load(directory, train: false, testLimit,
                verifyChecksums: string.IsNullOrWhiteSpace(dataDirectory));
            OptionException.ThrowIfAbove("--test-limit", testLimit, test.Count, "test");
            // The data's own class names win; a folder without classes.txt takes those the model was trained with.
            var classNames = File.Exists(Path.Combine(directory, ClassNamesFile.FileName))
                ? ClassNamesFile.Load(directory) : saved.ClassNames;
            var evaluation = Evaluation.Run(device.IsCpu ? saved.Model : saved.Model.To(device), test, classNames);
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
