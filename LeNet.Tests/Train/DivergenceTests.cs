using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// A run whose loss stops being finite ends at once with a sentence naming the epoch and step, writes nothing (the
/// last checkpoint stays the last good state), and exits non-zero.
/// </summary>
public class DivergenceTests
{
    [Fact]
    public void A_non_finite_loss_stops_the_run_at_that_step_and_keeps_the_last_checkpoint_byte_for_byte()
    {
        using var folder = new TemporaryFolder();
        var clean = MnistDataset.Load(MnistTestData.Directory, train: false, limit: 640, verifyChecksums: false);
        var test = clean.Take(100);
        var options = new TrainOptions { Epochs = 1, Seed = 5, OutputDirectory = folder.Path, Pictures = false,
            LogEvery = 1000 };
        new Trainer(options, TextWriter.Null)
            .Run(new MnistData(MnistTestData.Directory, clean, test), stop: TestContext.Current.CancellationToken);
        var checkpoint = Path.Combine(folder.Path, TrainingCheckpoint.FileName);
        var before = File.ReadAllBytes(checkpoint);
        File.Delete(Path.Combine(folder.Path, "model.safetensors"));
        File.Delete(Path.Combine(folder.Path, "metrics.json"));

        // One NaN pixel in image 123: the step whose batch holds it in epoch 2's order is the first with a NaN loss.
        const int poisoned = 123;
        var pixels = (float[])clean.Images.Clone();
        pixels[poisoned * clean.ImageLength + 200] = float.NaN;
        var data = new MnistData(MnistTestData.Directory, new MnistDataset(pixels, clean.Labels, clean.ImageSize),
            test);
        var step = Array.IndexOf(MnistBatcher.Permutation(clean.Count, seed: 5, epoch: 1), poisoned) / 64 + 1;

        var error = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(options with { Epochs = 3 }, TextWriter.Null)
                .Run(data, TrainingCheckpoint.Load(folder.Path), stop: TestContext.Current.CancellationToken));

        Assert.Equal(
            $"Training diverged: the loss became NaN at epoch 2, step {step}, so the run stopped, keeping the last " +
                $"checkpoint {checkpoint} (after epoch 1); try a smaller --lr.",
            error.Message);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
        // Beside the checkpoint only what the completed first epoch left: its model as the best so far, the live log.
        Assert.Equal([Trainer.BestModelFileName, TrainingCheckpoint.FileName, MetricsCsv.FileName],
            Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_learning_rate_of_1e10_diverges_and_the_command_exits_1_leaving_the_folder_as_it_was()
    {
        using var folder = new TemporaryFolder();
        // The folder holds another run's checkpoint and model, which a diverged run must not touch, even when asked to
        // replace them: it replaces them only with a model of its own.
        foreach (var name in new[] { TrainingCheckpoint.FileName, "model.safetensors" })
            File.Copy(Path.Combine(TrainedModel.Directory, name), Path.Combine(folder.Path, name));
        var before = Directory.GetFiles(folder.Path).ToDictionary(f => f, File.ReadAllBytes);
        var options = new TrainOptions { DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100,
            Epochs = 2, LearningRate = 1e10f, OutputDirectory = folder.Path, Overwrite = true };
        var (log, error) = (new StringWriter(), new StringWriter());

        var code = TrainCommand.Run(options, log, error);

        Assert.Equal(1, code);
        Assert.Matches(
            @"^Training diverged: the loss became NaN at epoch 1, step \d+, so the run stopped, " +
                @"having saved nothing; try a smaller --lr\.$",
            error.ToString().TrimEnd());
        Assert.DoesNotContain("Epoch [1/2] took", log.ToString());
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(folder.Path).Order());
        Assert.All(before, file => Assert.Equal(file.Value, File.ReadAllBytes(file.Key)));
    }
}
