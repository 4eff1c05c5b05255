using System.Text.Json;
using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Core.Serialization.Onnx;
using LeNet.Mnist;
using LeNet.Tests.Files;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>What the commands read, tried as an attacker or a careless user would (issue 19): special files, damaged
/// or hostile model metadata, other data on resume, absurd thread counts.</summary>
public class HostileInputTests
{
    private static Dictionary<string, string> Metadata(
        string classNames = "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]",
        string version = "1") => new()
    {
        ["format"] = "lenet-csharp", ["format_version"] = version, ["model"] = "lenet5", ["classes"] = "10",
        ["class_names"] = classNames,
    };

    private static string ModelFile(TemporaryFolder folder, Dictionary<string, string> metadata, bool poison = false)
    {
        var state = ModelVariants.Create("lenet5", seed: 1).StateDict();
        if (poison) state.First(e => e.Name == "layer2.0.weight").Tensor.AsSpan()[7] = float.NaN;
        var path = Path.Combine(folder.Path, "model.safetensors");
        SafeTensors.Save(path, state, metadata);
        return path;
    }

    [Fact]
    public void A_model_file_with_a_NaN_weight_is_refused_naming_the_tensor()
    {
        using var folder = new TemporaryFolder();
        var path = ModelFile(folder, Metadata(), poison: true);

        var error = Assert.Throws<ModelFormatException>(() => SavedModel.Load(path));

        Assert.Contains("holds NaN at element 7 of tensor layer2.0.weight", error.Message);
        var log = new StringWriter();
        var errors = new StringWriter();
        Assert.Equal(1, PredictCommand.Run(path, [path], json: true, log, errors));
        Assert.Equal("", log.ToString());
        Assert.Contains("layer2.0.weight", errors.ToString());
    }

    public static TheoryData<string, string, string> BadMetadata => new()
    {
        { "a newer format", "version:2", "has format version '2', but this build reads version 1" },
        { "malformed class names", "names:[\"0\",", "does not hold a list of class names (2 to 256)" },
        { "nine class names", "names:[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\"]",
            "does not fit model lenet5 with 9 classes, one per class name" },
        { "an escape sequence", "names:[\"\\u001b[2J\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]",
            "class 0: it holds the unprintable character U+001B" },
        { "a 30,000-character name", "names:[\"" + new string('x', 30_000) +
            "\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]",
            "30,000 characters long" },
    };

    [Theory]
    [MemberData(nameof(BadMetadata))]
    public void Model_metadata_that_cannot_be_trusted_is_refused_in_one_sentence(string what, string change,
        string expected)
    {
        using var folder = new TemporaryFolder();
        var (key, value) = (change[..change.IndexOf(':')], change[(change.IndexOf(':') + 1)..]);
        var path = ModelFile(folder, key == "version" ? Metadata(version: value) : Metadata(classNames: value));

        var error = Assert.Throws<ModelFormatException>(() => SavedModel.Load(path));

        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\u001b', error.Message);
        Assert.True(error.Message.Length < 400, $"{what}: the message is {error.Message.Length} characters long");
    }

    [Fact]
    public void An_onnx_file_given_as_the_model_is_recognised_and_named()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "lenet5.onnx");
        OnnxExporter.Save(ModelVariants.Create("lenet5", seed: 1), path);

        var error = Assert.Throws<ModelFormatException>(() => SavedModel.Load(path));

        Assert.Equal(
            $"The model file {path} is an ONNX model (as export --onnx writes), which is for other runtimes; " +
            "pass the model.safetensors that train wrote.", error.Message);
    }

    [Fact]
    public void A_fifo_or_an_endless_device_as_the_model_is_one_sentence_at_once()
    {
        Assert.SkipUnless(HostileFiles.Supported, "FIFOs need a Unix system");
        using var folder = new TemporaryFolder();
        var fifo = HostileFiles.Fifo(Path.Combine(folder.Path, "model.safetensors"));

        foreach (var model in new[] { fifo, HostileFiles.EndlessDevice })
        {
            var errors = new StringWriter();
            var code = HostileFiles.WithinTenSeconds(() =>
                PredictCommand.Run(model, ["x.png"], false, TextWriter.Null, errors));
            Assert.Equal(1, code);
            Assert.Contains("not a regular file); pass the model.safetensors that train wrote.", errors.ToString());
        }
    }

    [Fact]
    public void A_folder_given_as_an_image_is_called_a_folder_and_the_other_images_are_still_predicted()
    {
        using var folder = new TemporaryFolder();
        var errors = new StringWriter();
        var log = new StringWriter();
        var digit = Path.Combine(folder.Path, "seven.pgm");
        File.WriteAllText(digit, "P2 4 4 255 0 0 0 0 0 255 255 0 0 0 255 0 0 0 255 0");

        var code = PredictCommand.Run(TrainedModel.ModelFile, [folder.Path, digit], false, log, errors);

        Assert.Equal(1, code);
        Assert.Equal($"{folder.Path}: cannot be read (it is a folder, not a file).", errors.ToString().Trim());
        Assert.StartsWith($"{digit}: ", log.ToString());
    }

    [Fact]
    public void A_checkpoint_is_a_fifo_or_holds_a_nan_and_is_refused_without_talk_of_learning_rates()
    {
        Assert.SkipUnless(HostileFiles.Supported, "FIFOs need a Unix system");
        using var folder = new TemporaryFolder();
        var fifo = HostileFiles.Fifo(Path.Combine(folder.Path, TrainingCheckpoint.FileName));

        var error = HostileFiles.ThrowsWithinTenSeconds(() => TrainingCheckpoint.Load(fifo));

        Assert.Contains("(it is a FIFO (named pipe), not a regular file)",
            Assert.IsType<CheckpointException>(error).Message);

        var bytes = File.ReadAllBytes(Path.Combine(TrainedModel.Directory, TrainingCheckpoint.FileName));
        var file = Checkpoint.Parse(bytes, "c");
        var path = Path.Combine(folder.Path, "poisoned.lenetckpt");
        Checkpoint.Save(path, file.Model, file.Tensors.Select(t => (t.Name, t.Name == "model.fc.weight"
            ? Tensor.FromArray(t.Values.Select((v, i) => i == 3 ? float.PositiveInfinity : v).ToArray(), t.Shape)
            : Tensor.FromArray(t.Values, t.Shape))), new Dictionary<string, string>(file.Metadata));
        var poisoned = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Load(path)).Message;
        Assert.Contains("tensor model.fc.weight holds", poisoned);
        Assert.DoesNotContain("--lr", poisoned);
    }

    [Fact]
    public void A_checkpoint_without_a_key_names_it_instead_of_quoting_dotnet()
    {
        using var folder = new TemporaryFolder();
        var file = Checkpoint.Parse(
            File.ReadAllBytes(Path.Combine(TrainedModel.Directory, TrainingCheckpoint.FileName)), "c");
        var path = Path.Combine(folder.Path, "partial.lenetckpt");
        var metadata = new Dictionary<string, string>(file.Metadata);
        metadata.Remove("seed");
        Checkpoint.Save(path, file.Model, file.Tensors.Select(t => (t.Name, Tensor.FromArray(t.Values, t.Shape))),
            metadata);

        var error = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Load(path)).Message;

        Assert.Contains("(it has no 'seed')", error);
        Assert.DoesNotContain("given key", error);
    }

    /// <summary>A data folder of links to the real files, with the training labels replaced when asked.</summary>
    private static string DataFolder(TemporaryFolder folder, string name, bool otherLabels = false)
    {
        var data = Directory.CreateDirectory(Path.Combine(folder.Path, name)).FullName;
        foreach (var part in MnistFiles.AllParts)
        {
            var real = MnistFiles.Find(MnistTestData.Directory, part)!;
            if (otherLabels && part == MnistPart.TrainLabels)
            {
                var labels = MnistFiles.Read(MnistTestData.Directory, part).Data.Select(l => (byte)((l + 1) % 10));
                File.WriteAllBytes(Path.Combine(data, MnistFiles.FileName(part)), IdxBytes.Labels(labels.ToArray()));
            }
            else File.CreateSymbolicLink(Path.Combine(data, Path.GetFileName(real)), real);
        }
        return data;
    }

    [Fact]
    public void A_resume_on_other_data_is_refused_and_a_vanished_data_folder_is_not_recreated()
    {
        Assert.SkipUnless(HostileFiles.Supported, "the data folders are made of symbolic links");
        using var folder = new TemporaryFolder();
        var original = DataFolder(folder, "original");
        var permuted = DataFolder(folder, "permuted", otherLabels: true);
        var output = Path.Combine(folder.Path, "run");
        var options = new TrainOptions
        {
            DataDirectory = original, Limit = 640, TestLimit = 100, Epochs = 1, OutputDirectory = output,
            Pictures = false, LogEvery = 1000,
        };
        Assert.Equal(0, TrainCommand.Run(options, TextWriter.Null, TextWriter.Null));

        var errors = new StringWriter();
        var resumed = options with { Epochs = 2, DataDirectory = permuted, Resume = output };
        Assert.Equal(1, TrainCommand.Run(resumed, TextWriter.Null, errors,
            given: new HashSet<string> { "--data", "--epochs" }));
        Assert.Contains("was written by a run on other data than the files in", errors.ToString());

        Directory.Delete(original, recursive: true);
        errors = new StringWriter();
        Assert.Equal(1, TrainCommand.Run(options with { Epochs = 2, Resume = output }, TextWriter.Null, errors,
            given: new HashSet<string> { "--epochs" }));
        Assert.Contains($"was trained on the data in {original}, which no longer exists", errors.ToString());
        Assert.False(Directory.Exists(original), "the vanished data folder was created again");
    }

    [Fact]
    public void Evaluate_needs_only_the_test_files()
    {
        Assert.SkipUnless(HostileFiles.Supported, "the data folder is made of symbolic links");
        using var folder = new TemporaryFolder();
        foreach (var part in new[] { MnistPart.TestImages, MnistPart.TestLabels })
        {
            var real = MnistFiles.Find(MnistTestData.Directory, part)!;
            File.CreateSymbolicLink(Path.Combine(folder.Path, Path.GetFileName(real)), real);
        }
        var errors = new StringWriter();

        var code = EvaluateCommand.Run(TrainedModel.ModelFile, folder.Path, 100, json: true, null, TextWriter.Null,
            errors);

        Assert.True(code == 0, errors.ToString());
        Assert.Equal(2, Directory.GetFiles(folder.Path).Length);
    }

    [Fact]
    public void Thread_counts_beyond_four_per_core_are_refused_before_any_thread_starts()
    {
        var problem = new TrainOptions { Threads = 10_000 }.Problem();

        Assert.Equal($"--threads is 10000; it must be a whole number from 1 to {4 * Environment.ProcessorCount} " +
            $"(4 per core on this machine's {Environment.ProcessorCount}).", problem);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("100000")]
    public async Task An_unusable_LENET_THREADS_is_refused_not_ignored(string value)
    {
        using var folder = new TemporaryFolder();
        using var process = ResumeTests.StartTrainer(["train", "--data", MnistTestData.Directory, "--limit", "640",
            "--epochs", "1", "--output", Path.Combine(folder.Path, "out")],
            new Dictionary<string, string> { ["LENET_THREADS"] = value });
        var cancel = TestContext.Current.CancellationToken;
        var errors = process.StandardError.ReadToEndAsync(cancel);
        var output = await process.StandardOutput.ReadToEndAsync(cancel);
        await process.WaitForExitAsync(cancel);

        Assert.Equal(1, process.ExitCode);
        Assert.Equal(
            $"LENET_THREADS is {value}; it must be a whole number from 1 to {4 * Environment.ProcessorCount} " +
            $"(4 per core on this machine's {Environment.ProcessorCount}).", (await errors).Trim());
        Assert.DoesNotContain("Epoch", output);
    }

    [Fact]
    public void A_picture_that_cannot_be_drawn_is_a_warning_and_the_run_still_saves_its_metrics()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "run");
        Directory.CreateDirectory(Path.Combine(output, "curves.png")); // a folder where the picture goes
        var log = new StringWriter();
        var options = new TrainOptions
        {
            DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100, Epochs = 1, OutputDirectory = output,
            LogEvery = 1000,
        };

        Assert.Equal(0, TrainCommand.Run(options, log, TextWriter.Null));

        Assert.Contains("Warning: the pictures could not be drawn (", log.ToString());
        Assert.True(File.Exists(Path.Combine(output, "metrics.json")));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        Assert.Single(metrics.RootElement.GetProperty("epochs").EnumerateArray());
    }
}
