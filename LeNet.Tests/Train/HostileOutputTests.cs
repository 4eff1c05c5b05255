using System.Text.Json;
using LeNet.Core.Files;
using LeNet.Core.Serialization;
using LeNet.Tests.Files;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// The paths the commands write, in a hostile world (issue 19): a lock file that is a link, special files as targets,
/// empty paths, a folder as --metrics, temporaries left by kill -9, an export over its own model.
/// </summary>
public class HostileOutputTests
{
    private static TrainOptions Options(string output) => new()
    {
        DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100, Epochs = 1, OutputDirectory = output,
        Pictures = false,
    };

    [Fact]
    public void A_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_stays_untouched()
    {
        Assert.SkipUnless(HostileFiles.Supported, "symbolic links need a Unix file system here");
        using var folder = new TemporaryFolder();
        var precious = Path.Combine(folder.Path, "p.txt");
        File.WriteAllText(precious, "precious\n");
        var output = Directory.CreateDirectory(Path.Combine(folder.Path, "L2")).FullName;
        var lockFile = Path.Combine(output, OutputFolder.LockFileName);
        File.CreateSymbolicLink(lockFile, "../p.txt");

        var (log, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(1, TrainCommand.Run(Options(output), log, error));

        Assert.Equal($"The lock file {lockFile} is a symbolic link (to ../p.txt), which a run never writes through; " +
            "remove it, or choose another --output folder.", error.ToString().TrimEnd());
        Assert.Empty(log.ToString());
        Assert.Equal("precious\n", File.ReadAllText(precious));
        Assert.Equal("../p.txt", new FileInfo(lockFile).LinkTarget);
        Assert.Equal([OutputFolder.LockFileName], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
    }

    [Fact]
    public void A_lock_file_that_is_a_fifo_is_refused_without_blocking()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "FIFOs are told from files on Linux");
        using var folder = new TemporaryFolder();
        var fifo = HostileFiles.Fifo(Path.Combine(folder.Path, OutputFolder.LockFileName));

        var refusal = (OptionException)HostileFiles.ThrowsWithinTenSeconds(() => OutputFolder.Claim(folder.Path));

        Assert.Equal($"The lock file {fifo} is not a regular file, which a run never writes through; remove it, or " +
            "choose another --output folder.", refusal.Message);
        Assert.Equal(ReadableFile.FileKind.Fifo, ReadableFile.Kind(fifo, followLinks: false));
    }

    [Fact]
    public void Taking_the_lock_removes_the_temporaries_a_killed_write_left_and_nothing_else()
    {
        using var folder = new TemporaryFolder();
        const string guid = "0123456789abcdef0123456789abcdef";
        string[] stale = [$".checkpoint.lenetckpt.{guid}.tmp", $".model.safetensors.{guid}.tmp"];
        string[] kept =
        [
            "model.safetensors", $"checkpoint.lenetckpt.{guid}.tmp", $".model.safetensors.{guid[..31]}.tmp",
            $".notes.{guid.ToUpperInvariant()}.tmp", $".metrics.json.{guid}.tmp.bak",
        ];
        foreach (var name in stale.Concat(kept)) File.WriteAllText(Path.Combine(folder.Path, name), name);
        Directory.CreateDirectory(Path.Combine(folder.Path, $".pictures.{guid}.tmp"));

        using (OutputFolder.Claim(folder.Path)) { }

        Assert.Equal(kept.Append($".pictures.{guid}.tmp").Order(StringComparer.Ordinal),
            Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var name in kept)
            Assert.Equal(name, File.ReadAllText(Path.Combine(folder.Path, name)));
    }

    public static TheoryData<string[], string> EmptyPaths => new()
    {
        { ["train", "--output", ""], "--output is empty; name the folder to write to." },
        { ["train", "--metrics", ""], "--metrics is empty; name the file to write to." },
        { ["train", "--metrics", " "], "--metrics is empty; name the file to write to." },
        { ["export", "--model", "model.safetensors", "--onnx", ""], "--onnx is empty; name the file to write to." },
        {
            ["evaluate", "--model", "model.safetensors", "--output", ""],
            "--output is empty; name the file to write to."
        },
    };

    [Theory]
    [MemberData(nameof(EmptyPaths))]
    public void An_empty_path_is_a_bad_option_in_one_sentence(string[] arguments, string sentence)
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Run(arguments, error));
        Assert.Equal([sentence, $"Run 'LeNet.Train {arguments[0]} --help' to see its options."],
            error.ToString().TrimEnd().Split(Environment.NewLine));
    }

    [Fact]
    public void A_metrics_path_that_is_a_folder_or_in_a_missing_folder_is_refused_before_any_work()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "out");
        var inTheWay = Directory.CreateDirectory(Path.Combine(folder.Path, "metrics")).FullName;
        // Only the last part of the file's folder may be missing (as for --output): two levels are a typo.
        var missing = Path.Combine(folder.Path, "nowhere", "deeper", "metrics.json");

        foreach (var (metrics, clause) in new[]
        {
            (inTheWay, "it is a folder; name a file in it"),
            (missing, $"its folder {Path.GetDirectoryName(missing)} does not exist; create it, or choose another path"),
        })
        {
            var (log, error) = (new StringWriter(), new StringWriter());
            Assert.Equal(1, TrainCommand.Run(Options(output) with { MetricsFile = metrics }, log, error));
            Assert.Equal($"Cannot write {metrics} (for --metrics): {clause}.", error.ToString().TrimEnd());
            // No data read, no step taken: the log is empty and the output folder made for the run is gone again.
            Assert.Empty(log.ToString());
            Assert.False(Directory.Exists(output));
            Assert.False(Directory.Exists(Path.Combine(folder.Path, "nowhere")));
        }
    }

    [Fact]
    public void A_link_where_the_model_goes_is_refused_before_any_work()
    {
        Assert.SkipUnless(HostileFiles.Supported, "symbolic links need a Unix file system here");
        using var folder = new TemporaryFolder();
        var precious = Path.Combine(folder.Path, "p.txt");
        File.WriteAllText(precious, "precious\n");
        var output = Directory.CreateDirectory(Path.Combine(folder.Path, "out")).FullName;
        var model = Path.Combine(output, "model.safetensors");
        File.CreateSymbolicLink(model, precious);

        var (log, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(1, TrainCommand.Run(Options(output), log, error));

        Assert.Equal($"Cannot write {model} (for --output): it is a symbolic link (to {precious}), which is never " +
            "written through; name the file it points to, or remove the link.", error.ToString().TrimEnd());
        Assert.Empty(log.ToString());
        Assert.Equal("precious\n", File.ReadAllText(precious));
    }

    [Fact]
    public void Metrics_to_a_fifo_reach_its_reader_and_the_fifo_stays()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "FIFOs are told from files on Linux");
        using var folder = new TemporaryFolder();
        var fifo = HostileFiles.Fifo(Path.Combine(folder.Path, "metrics.fifo"));
        var output = Path.Combine(folder.Path, "out");
        var error = new StringWriter();

        var received = WriteRulesTests.ReadWhileWriting(fifo, () =>
            Assert.Equal(0, TrainCommand.Run(Options(output) with { MetricsFile = fifo }, TextWriter.Null, error)));

        Assert.Empty(error.ToString());
        using var metrics = JsonDocument.Parse(received);
        Assert.Equal(1, metrics.RootElement.GetProperty("epochs").GetArrayLength());
        Assert.Equal(ReadableFile.FileKind.Fifo, ReadableFile.Kind(fifo, followLinks: false));
        Assert.False(File.Exists(Path.Combine(output, "metrics.json")));
    }

    [Fact]
    public void Evaluate_output_dash_prints_the_json_once_on_standard_output()
    {
        var (log, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, 50, json: false, "-", log,
            error));
        using var report = JsonDocument.Parse(log.ToString());
        Assert.Equal(50, report.RootElement.GetProperty("images").GetInt32());
        Assert.False(File.Exists("-"));
    }

    [Fact]
    public async Task Evaluate_json_output_dev_stdout_prints_through_a_pipe_and_leaves_dev_stdout_alone()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "/dev/stdout is a link to the process's descriptor on Linux");
        var before = new FileInfo("/dev/stdout").LinkTarget;
        using var evaluate = TrainerProcess.Start(["evaluate", "--model", TrainedModel.ModelFile, "--data",
            MnistTestData.Directory, "--test-limit", "50", "--json", "--output", "/dev/stdout"]);
        var (code, output, errors) = await evaluate.WaitForExit(TestContext.Current.CancellationToken);

        Assert.Equal(0, code);
        Assert.Empty(errors);
        using var report = JsonDocument.Parse(output);
        Assert.Equal(50, report.RootElement.GetProperty("images").GetInt32());
        Assert.Equal(before, new FileInfo("/dev/stdout").LinkTarget);
    }

    [Fact]
    public void Export_over_its_own_model_is_refused_however_the_path_is_spelled()
    {
        Assert.SkipUnless(HostileFiles.Supported, "symbolic links need a Unix file system here");
        using var folder = new TemporaryFolder();
        var models = Directory.CreateDirectory(Path.Combine(folder.Path, "models")).FullName;
        var model = Path.Combine(models, "model.safetensors");
        File.Copy(TrainedModel.ModelFile, model);
        var bytes = File.ReadAllBytes(model);
        var linkedFolder = Path.Combine(folder.Path, "linked");
        Directory.CreateSymbolicLink(linkedFolder, models);

        foreach (var (modelPath, onnx) in new[]
        {
            (model, model),
            (model, Path.Combine(models, "..", "models", ".", "model.safetensors")),
            (models, model),
            (model, Path.Combine(linkedFolder, "model.safetensors")),
        })
        {
            var (log, error) = (new StringWriter(), new StringWriter());
            Assert.Equal(1, ExportCommand.Run(modelPath, onnx, log, error));
            Assert.Equal($"--onnx {onnx} is the model file itself; name another file for the ONNX export, so that " +
                "the model is not overwritten.", error.ToString().TrimEnd());
            Assert.Empty(log.ToString());
            Assert.Equal(bytes, File.ReadAllBytes(model));
        }
        Assert.Equal(["model.safetensors"], Directory.GetFileSystemEntries(models).Select(Path.GetFileName));
    }

    [Fact]
    public void Export_to_a_fifo_writes_the_onnx_through_it()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "FIFOs are told from files on Linux");
        using var folder = new TemporaryFolder();
        var fifo = HostileFiles.Fifo(Path.Combine(folder.Path, "lenet5.onnx"));
        var file = Path.Combine(folder.Path, "file.onnx");
        Assert.Equal(0, ExportCommand.Run(TrainedModel.ModelFile, file, TextWriter.Null, TextWriter.Null));

        var received = WriteRulesTests.ReadWhileWriting(fifo, () =>
            Assert.Equal(0, ExportCommand.Run(TrainedModel.ModelFile, fifo, TextWriter.Null, TextWriter.Null)));

        Assert.Equal(File.ReadAllBytes(file), received);
        Assert.Equal(ReadableFile.FileKind.Fifo, ReadableFile.Kind(fifo, followLinks: false));
    }
}
