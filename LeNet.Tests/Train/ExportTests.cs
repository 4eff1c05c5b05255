using System.Diagnostics;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Mnist;
using LeNet.Tests.Core;
using LeNet.Tests.Mnist;
using LeNet.Train;
using Microsoft.ML.OnnxRuntime;

namespace LeNet.Tests.Train;

public class ExportTests(ITestOutputHelper output)
{
    private const int Classes = 10;
    private const int Batch = 1000;

    [Fact]
    public void The_exported_trained_model_gives_our_logits_and_our_digits_on_all_10000_test_images()
    {
        using var folder = new TemporaryFolder();
        var onnx = Path.Combine(folder.Path, "lenet5.onnx");
        Assert.Equal(0, Cli.Run(["export", "--model", TrainedModel.ModelFile, "--onnx", onnx]));

        var clock = Stopwatch.StartNew();
        var saved = SavedModel.Load(TrainedModel.ModelFile);
        var test = MnistDataset.Load(MnistTestData.Directory, train: false, verifyChecksums: false);
        Assert.Equal(10_000, test.Count);
        var ours = OurLogits(saved.Model, test);
        using var session = new InferenceSession(onnx);
        var theirs = new float[ours.Length];
        for (var first = 0; first < test.Count; first += Batch)
            OnnxRuntimeLogits.Run(session, test.Images.AsMemory(first * test.ImageLength, Batch * test.ImageLength),
                Batch).CopyTo(theirs, first * Classes);

        var difference = OnnxRuntimeLogits.MaxRelativeDifference(ours, theirs, Classes);
        var predictions = OnnxRuntimeLogits.Predictions(theirs, Classes);
        output.WriteLine(
            $"{new FileInfo(onnx).Length:N0} bytes; max over 10,000 images of max|ours − ORT| / " +
                $"max|ours|: {difference:E2}; " +
            $"ORT accuracy {predictions.Zip(test.Labels).Count(p => p.First == p.Second) / 100.0:F2} %; compared in " +
                $"{clock.Elapsed.TotalSeconds:F2} s.");
        Assert.InRange(difference, 0, 1e-4);
        Assert.Equal(OnnxRuntimeLogits.Predictions(ours, Classes), predictions);
        // The digits our evaluate command counts are the ones ONNX Runtime gives.
        Assert.Equal(Evaluation.Predict(saved.Model, test), predictions);
    }

    [Fact]
    public void A_checkpoint_exports_the_same_file_as_the_model_it_ends_with()
    {
        using var folder = new TemporaryFolder();
        var fromModel = Path.Combine(folder.Path, "from-model.onnx");
        var fromCheckpoint = Path.Combine(folder.Path, "from-checkpoint.onnx");
        var log = new StringWriter();
        Assert.Equal(0, ExportCommand.Run(TrainedModel.ModelFile, fromModel, log, TextWriter.Null));
        Assert.Equal(0, ExportCommand.Run(Path.Combine(TrainedModel.Directory, TrainingCheckpoint.FileName),
            fromCheckpoint, TextWriter.Null, TextWriter.Null));
        Assert.StartsWith(
            $"Exported LeNet-5 to {fromModel} ({new FileInfo(fromModel).Length:N0} bytes, ONNX opset 13, input " +
                "'input' [N, 1, 32, 32], output 'logits' [N, 10]) in ",
            log.ToString());
        Assert.Equal(File.ReadAllBytes(fromModel), File.ReadAllBytes(fromCheckpoint));
        Assert.Equal(["from-checkpoint.onnx", "from-model.onnx"],
            Directory.EnumerateFileSystemEntries(folder.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Export_refuses_a_missing_model_a_missing_folder_and_a_folder_with_one_sentence_and_writes_nothing()
    {
        using var folder = new TemporaryFolder();
        var onnx = Path.Combine(folder.Path, "model.onnx");
        var missing = Path.Combine(folder.Path, "nothing.safetensors");
        var error = new StringWriter();
        Assert.Equal(1, ExportCommand.Run(missing, onnx, TextWriter.Null, error));
        Assert.Equal(
            $"There is no model file at {missing}; pass the model.safetensors (or checkpoint) that `train` wrote " +
                "to its --output folder.",
            error.ToString().TrimEnd());

        var noFolder = Path.Combine(folder.Path, "no-such-folder");
        error = new StringWriter();
        Assert.Equal(1, ExportCommand.Run(TrainedModel.ModelFile, Path.Combine(noFolder, "model.onnx"), TextWriter.Null,
            error));
        Assert.Equal($"The folder {noFolder} for --onnx does not exist; create it or choose another path.",
            error.ToString().TrimEnd());

        error = new StringWriter();
        Assert.Equal(1, ExportCommand.Run(TrainedModel.ModelFile, folder.Path, TextWriter.Null, error));
        Assert.Equal(
            $"--onnx {folder.Path} is a folder; give the file to write, e.g. " +
                $"{Path.Combine(folder.Path, "model.onnx")}.",
            error.ToString().TrimEnd());

        var truncated = Path.Combine(folder.Path, "truncated.safetensors");
        File.WriteAllBytes(truncated, File.ReadAllBytes(TrainedModel.ModelFile)[..1000]);
        error = new StringWriter();
        Assert.Equal(1, ExportCommand.Run(truncated, onnx, TextWriter.Null, error));
        Assert.Single(error.ToString().TrimEnd().Split('\n'));

        // Through the command line: the same refusal's exit code; a missing --onnx is an option error.
        Assert.Equal(1, Cli.Run(["export", "--model", missing, "--onnx", onnx]));
        Assert.Equal(2, Cli.Run(["export", "--model", TrainedModel.ModelFile], TextWriter.Null));
        Assert.Equal(["truncated.safetensors"],
            Directory.EnumerateFileSystemEntries(folder.Path).Select(Path.GetFileName));
    }

    /// <summary>Our logits for every image of <paramref name="test"/>, in evaluation mode, in batches as evaluate runs
    /// them.</summary>
    private static float[] OurLogits(Module model, MnistDataset test)
    {
        var logits = new float[test.Count * Classes];
        model.Eval();
        using var noGrad = GradientTape.NoGrad();
        for (var first = 0; first < test.Count; first += Batch)
            model.Forward(Tensor.FromArray(test.Images.AsSpan(first * test.ImageLength, Batch * test.ImageLength),
                Batch, 1, 32, 32))
                .AsSpan().CopyTo(logits.AsSpan(first * Classes));
        return logits;
    }
}
