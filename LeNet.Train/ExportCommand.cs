using System.Diagnostics;
using LeNet.Core.Files;
using LeNet.Core.Serialization.Onnx;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>export --model FILE --onnx OUT.onnx: the trained model as ONNX, for ONNX Runtime, ML.NET, ...</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = SavedModel.Option();
        var onnx = Placeholder(NamingAPath(Described<string>("--onnx",
            "The ONNX file to write, e.g. lenet5.onnx (its folder must exist; an existing file is replaced)."), "file"),
            "FILE");
        onnx.Required = true;
        var command = new Command("export",
            $"Exports a trained model as ONNX (opset {OnnxExporter.OpsetVersion}): input '{OnnxExporter.InputName}' " +
            $"[N, 1, 32, 32] float (preprocessed as the test set), output '{OnnxExporter.OutputName}' [N, classes].")
        {
            model, onnx,
        };
        // Quiet: the file is the result; the line saying where it went is left out.
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(onnx)!,
            Cli.IsQuiet(parse) ? TextWriter.Null : Console.Out, Console.Error));
        return command;
    }

    /// <summary>
    /// Exports; user errors (no model, no such folder, a model ONNX cannot say) end in one sentence on stderr and exit
    /// code 1, with no file written.
    /// </summary>
    public static int Run(string modelPath, string onnxPath, TextWriter log, TextWriter error) =>
        Cli.ExitOnUserError(error, e => e is OptionException or OnnxExportException or ModelFormatException
            or CheckpointException or IOException or UnauthorizedAccessException, () =>
        {
            var toStandardOutput = AtomicFile.IsStandardOutput(onnxPath);
            var target = toStandardOutput ? onnxPath : Path.GetFullPath(onnxPath);
            if (Directory.Exists(target))
                throw new OptionException($"--onnx {onnxPath} is a folder; give the file to write, e.g. " +
                    $"{Path.Combine(onnxPath, "model.onnx")}.");
            var folder = Path.GetDirectoryName(target)!;
            if (!toStandardOutput && !Directory.Exists(folder))
                throw new OptionException(
                    $"The folder {folder} for --onnx does not exist; create it or choose another path.");
            OutputFolder.CheckFile(onnxPath, "--onnx");
            var modelFile = Directory.Exists(modelPath) ? Path.Combine(modelPath, "model.safetensors") : modelPath;
            if (!toStandardOutput && SameFile(target, modelFile))
                throw new OptionException($"--onnx {onnxPath} is the model file itself; name another file for the " +
                    "ONNX export, so that the model is not overwritten.");
            var saved = SavedModel.Load(modelPath);
            var size = MnistPreprocessing.DefaultImageSize;
            var (mean, std) = (Invariant(MnistPreprocessing.TestMean), Invariant(MnistPreprocessing.TestStd));
            var options = new OnnxExportOptions
            {
                ImageShape = [1, size, size],
                GraphName = saved.Variant,
                Description =
                    $"{Trainer.DisplayName(saved.Variant)} ({saved.Variant}) exported by LeNet.Train. Input " +
                    $"'{OnnxExporter.InputName}' [N, 1, {size}, {size}] float: 28×28 digits (light on dark) as " +
                    $"x / 255, resized bilinearly to {size}×{size}, then (x − {mean}) / {std}. Output " +
                    $"'{OnnxExporter.OutputName}' [N, {saved.ClassNames.Count}]: softmax gives the probabilities of " +
                    "the classes in class_names.",
                Metadata = new Dictionary<string, string>
                {
                    ["model"] = saved.Variant, ["class_names"] = JsonSerializer.Serialize(saved.ClassNames),
                    ["input"] = $"[N, 1, {size}, {size}]", ["normalization"] = $"mean {mean} std {std}",
                },
            };
            var clock = Stopwatch.StartNew();
            var bytes = OnnxExporter.Export(saved.Model, options);
            AtomicFile.Write(target, stream => stream.Write(bytes));
            clock.Stop();
            // The ONNX file itself may be what standard output carries.
            (toStandardOutput ? error : log).WriteLine(
                $"Exported {Trainer.DisplayName(saved.Variant)} to {target} ({bytes.Length:N0} bytes, " +
                $"ONNX opset {OnnxExporter.OpsetVersion}, input '{OnnxExporter.InputName}' [N, 1, {size}, {size}], " +
                $"output '{OnnxExporter.OutputName}' [N, {saved.ClassNames.Count}]) in " +
                $"{clock.Elapsed.TotalMilliseconds:F0} ms.");
            return 0;
        });

    // Two spellings of one file: the same full path, or (links followed, Linux) the same device and inode.
    private static bool SameFile(string first, string second) =>
        Path.GetFullPath(first) == Path.GetFullPath(second)
        || ReadableFile.Identity(first) is { } identity && identity == ReadableFile.Identity(second);

    private static string Invariant(float value) => value.ToString(CultureInfo.InvariantCulture);
}
