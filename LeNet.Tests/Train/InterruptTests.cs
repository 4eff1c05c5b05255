using System.Text.Json;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;
using LeNet.Train.Progress;

namespace LeNet.Tests.Train;

/// <summary>
/// Nothing lost: a run asked to stop (Ctrl-C, SIGTERM) saves the state after its last completed step and exits
/// cleanly, and --resume continues from that step to exactly the uninterrupted run's weights. Most runs here go
/// through the Trainer on data loaded once; the command line's own part (exit codes, signals) has its tests too.
/// </summary>
public class InterruptTests
{
    /// <summary>The first 6,400 training and 100 test images, as the trainer loads them.</summary>
    internal static readonly Lazy<MnistData> Data = new(() => new MnistData(MnistTestData.Directory,
        MnistDataset.Load(MnistTestData.Directory, train: true, limit: 6400, verifyChecksums: false),
        MnistDataset.Load(MnistTestData.Directory, train: false, limit: 100, verifyChecksums: false)));

    /// <summary>10 steps per epoch (640 images, batch 64), 3 epochs.</summary>
    private static TrainOptions Recipe(string output) => new()
    {
        DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100, Epochs = 3, Seed = 5, LogEvery = 1000,
        OutputDirectory = output, Pictures = false,
    };

    private static readonly Lazy<(byte[] Model, JsonDocument Metrics)> Uninterrupted = new(() =>
    {
        using var folder = new TemporaryFolder();
        new Trainer(Recipe(folder.Path), TextWriter.Null).Run(Data.Value);
        return (File.ReadAllBytes(Path.Combine(folder.Path, "model.safetensors")),
            JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "metrics.json"))));
    });

    /// <summary>Trains the recipe into <paramref name="folder"/> until <paramref name="stop"/> stops it; returns the
    /// message.</summary>
    private static string TrainUntilStopped(TrainOptions options, CancellationToken stop,
        TrainingProgress? progress = null, TrainingCheckpoint? resume = null) =>
        Assert.Throws<TrainingInterruptedException>(() => new Trainer(options, TextWriter.Null, progress)
            .Run(Data.Value, resume, stop: stop)).Message;

    /// <summary>Continues the run in <paramref name="folder"/> from its checkpoint to the end; returns the
    /// log.</summary>
    private static string Resume(string folder)
    {
        var log = new StringWriter();
        new Trainer(Recipe(folder), log).Run(Data.Value, TrainingCheckpoint.Load(folder));
        return log.ToString();
    }

    /// <summary>Asks the run to stop when step <c>step</c> of epoch <c>epoch</c> has ended, as a signal arriving then
    /// would.</summary>
    internal sealed class StopAfter(int epoch, int step, CancellationTokenSource stop) : TrainingProgress
    {
        private int _epoch;

        /// <summary>Every step's loss, in order, when set.</summary>
        public List<float>? Losses { get; init; }

        /// <summary>What <see cref="EpochResumed"/> was told, if it was called.</summary>
        public (int Steps, double LossSum, int Images)? Resumed { get; private set; }

        public override void Run(Action body) => body();

        public override void EpochStarted(int epoch, int epochs, int steps, int images) => _epoch = epoch;

        public override void EpochResumed(int stepsDone, double lossSum, int imagesDone) =>
            Resumed = (stepsDone, lossSum, imagesDone);

        public override void StepEnded(int step1, float loss, int images)
        {
            Losses?.Add(loss);
            if (_epoch == epoch && step1 == step) stop.Cancel();
        }

        public override void EpochEnded(EpochMetrics metrics, string summary) { }
    }

    /// <summary>Resumes the run in <paramref name="folder"/> as `train --resume folder` does (the recipe from the
    /// checkpoint).</summary>
    private static (int Code, string Errors) ResumeCommand(string folder, CancellationToken stop)
    {
        var error = new StringWriter();
        var code = TrainCommand.Run(new TrainOptions { Resume = folder, Pictures = false, LogEvery = 1000 },
            TextWriter.Null, error, stop, given: new HashSet<string>());
        return (code, error.ToString());
    }

    [Theory]
    [InlineData(2, 4, 1, 4)]   // mid-epoch: the checkpoint records epoch 1 done and 4 steps of epoch 2
    [InlineData(1, 1, 0, 1)]   // after the very first step
    [InlineData(3, 9, 2, 9)]   // one step before the end
    public void A_run_stopped_between_steps_saves_its_last_step_and_resumes_to_the_uninterrupted_weights_and_metrics(
        int epoch, int step, int epochsDone, int stepsDone)
    {
        using var folder = new TemporaryFolder();
        using var stop = new CancellationTokenSource();

        var message = TrainUntilStopped(Recipe(folder.Path), stop.Token, new StopAfter(epoch, step, stop));

        var checkpoint = Path.Combine(folder.Path, TrainingCheckpoint.FileName);
        Assert.Equal(
            $"Stopped as asked at epoch {epoch}, step {step} of 10: saved the checkpoint {checkpoint} (after step " +
                $"{step} of epoch {epoch}); " +
                     $"continue with --resume {folder.Path}.", message);
        var saved = TrainingCheckpoint.Load(folder.Path);
        Assert.Equal((epochsDone, stepsDone, 10 * epochsDone + stepsDone),
            (saved.Epoch, saved.Step, saved.OptimizerSteps));
        Assert.Equal(epochsDone, saved.Metrics.Epochs.Count);
        Assert.False(File.Exists(Path.Combine(folder.Path, "model.safetensors")), "a stopped run has no final model");
        // Beside the checkpoint only what completed epochs leave: the best model so far and the live log.
        string[] expected = epochsDone == 0 ? [TrainingCheckpoint.FileName]
            : [TrainingCheckpoint.FileName, Trainer.BestModelFileName, MetricsCsv.FileName];
        Assert.Equal(expected.Order(), Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName).Order());

        var log = Resume(folder.Path);

        Assert.Contains(
            $"Resuming from {checkpoint}: {epochsDone} of 3 epochs done and {stepsDone} of 10 steps of epoch " +
                $"{epoch}, Adam step {saved.OptimizerSteps}.",
            log);
        Assert.Equal(Uninterrupted.Value.Model, File.ReadAllBytes(Path.Combine(folder.Path, "model.safetensors")));
        // The interrupted epoch's mean loss is the whole epoch's: the loss sum of its first steps was carried over.
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "metrics.json")));
        double[] Losses(JsonDocument d) => d.RootElement.GetProperty("epochs").EnumerateArray()
            .Select(e => e.GetProperty("meanLoss").GetDouble()).ToArray();
        double[] Accuracies(JsonDocument d) => d.RootElement.GetProperty("epochs").EnumerateArray()
            .Select(e => e.GetProperty("testAccuracy").GetDouble()).ToArray();
        Assert.Equal(Losses(Uninterrupted.Value.Metrics), Losses(metrics));
        Assert.Equal(Accuracies(Uninterrupted.Value.Metrics), Accuracies(metrics));
    }

    [Fact]
    public void The_live_bar_of_a_resumed_epoch_shows_the_whole_epochs_running_loss_and_this_processs_rate()
    {
        using var folder = new TemporaryFolder();
        var losses = new List<float>();
        using (var stop = new CancellationTokenSource())
            TrainUntilStopped(Recipe(folder.Path), stop.Token, new StopAfter(2, 4, stop) { Losses = losses });
        var checkpoint = TrainingCheckpoint.Load(folder.Path);

        // What the bar shows after step 5 of the resumed epoch: the mean of steps 1-5, though this process ran only
        // step 5.
        var bar = new LiveProgress();
        bar.EpochStarted(2, 3, 10, 640);
        bar.EpochResumed(4, checkpoint.EpochLossSum, 256);
        bar.StepEnded(5, 0.25f, 320);
        var epochTwo = losses.Skip(10).Take(4).Sum(l => (double)l); // the stopped run's steps 1-4 of epoch 2
        Assert.Equal(epochTwo, checkpoint.EpochLossSum, 1e-6);
        Assert.Equal((epochTwo + 0.25) / 5, bar.RunningLoss, 1e-9);
        Assert.InRange(bar.Rate, 0, 64 / 1e-9); // 64 images of this process over its seconds, not 320

        // The trainer tells the progress where the resumed epoch stands.
        var resumed = new StopAfter(0, 0, new CancellationTokenSource());
        new Trainer(Recipe(folder.Path), TextWriter.Null, resumed)
            .Run(Data.Value, checkpoint, stop: TestContext.Current.CancellationToken);
        Assert.Equal((4, 256), (resumed.Resumed!.Value.Steps, resumed.Resumed.Value.Images));
        Assert.Equal(checkpoint.EpochLossSum, resumed.Resumed.Value.LossSum);
    }

    [Fact]
    public void A_run_stopped_twice_in_one_epoch_resumes_each_time_from_its_last_step()
    {
        using var folder = new TemporaryFolder();
        using (var stop = new CancellationTokenSource())
            TrainUntilStopped(Recipe(folder.Path), stop.Token, new StopAfter(2, 3, stop));
        using (var stop = new CancellationTokenSource())
            TrainUntilStopped(Recipe(folder.Path), stop.Token, new StopAfter(2, 7, stop),
                TrainingCheckpoint.Load(folder.Path));
        var saved = TrainingCheckpoint.Load(folder.Path);
        Assert.Equal((1, 7), (saved.Epoch, saved.Step));
        Resume(folder.Path);
        Assert.Equal(Uninterrupted.Value.Model, File.ReadAllBytes(Path.Combine(folder.Path, "model.safetensors")));
    }

    [Fact]
    public void A_run_stopped_after_an_epochs_last_step_keeps_the_epochs_checkpoint_without_writing_it_again()
    {
        using var folder = new TemporaryFolder();
        using var stop = new CancellationTokenSource();
        var checkpoint = Path.Combine(folder.Path, TrainingCheckpoint.FileName);
        // Step 10 ends epoch 1; the stop is seen before step 1 of epoch 2, after the epoch's checkpoint was written.
        Assert.Equal(
            $"Stopped as asked at epoch 2, step 0 of 10: nothing new since the checkpoint {checkpoint} (after epoch " +
                $"1); continue with --resume {folder.Path}.",
            TrainUntilStopped(Recipe(folder.Path), stop.Token, new StopAfter(1, 10, stop)));
        Assert.Equal((1, 0), (TrainingCheckpoint.Load(folder.Path).Epoch, TrainingCheckpoint.Load(folder.Path).Step));
    }

    [Fact]
    public void The_command_stopped_before_its_first_step_exits_130_saves_nothing_and_leaves_no_folder_behind()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "run");
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var error = new StringWriter();
        Assert.Equal(StopSignals.SigintExitCode, TrainCommand.Run(Recipe(output), TextWriter.Null, error, stop.Token));
        Assert.Equal(
            "Stopped as asked at epoch 1, step 0 of 10: no step was completed, so nothing is saved; " +
                "run it again to train.",
            error.ToString().TrimEnd());
        Assert.False(Directory.Exists(output), "the folder this run created should be gone again");
    }

    [Fact]
    public void A_resumed_run_stopped_before_its_first_step_leaves_its_checkpoint_as_it_was()
    {
        using var folder = new TemporaryFolder();
        using (var first = new CancellationTokenSource())
            TrainUntilStopped(Recipe(folder.Path), first.Token, new StopAfter(2, 5, first));
        var checkpoint = Path.Combine(folder.Path, TrainingCheckpoint.FileName);
        var before = File.ReadAllBytes(checkpoint);
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        Assert.Equal(
            $"Stopped as asked at epoch 2, step 5 of 10: nothing new since the checkpoint {checkpoint} (after step 5 " +
                $"of epoch 2); continue with --resume {folder.Path}.",
            TrainUntilStopped(Recipe(folder.Path), stop.Token, resume: TrainingCheckpoint.Load(folder.Path)));
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
    }

    /// <summary>100 steps per epoch, a loss line at each: long enough to be signalled mid-run after its first
    /// line.</summary>
    private static readonly string[] ProcessRecipe =
        ["--limit", "6400", "--test-limit", "100", "--epochs", "2", "--seed", "7", "--log-every", "1", "--no-pictures"];

    private static TrainOptions ProcessOptions(string output) =>
        new() { DataDirectory = MnistTestData.Directory, Limit = 6400, TestLimit = 100, Epochs = 2, Seed = 7,
            OutputDirectory = output, Pictures = false };

    private static readonly Lazy<byte[]> ProcessReference = new(() =>
    {
        using var folder = new TemporaryFolder();
        new Trainer(ProcessOptions(folder.Path), TextWriter.Null).Run(Data.Value);
        return File.ReadAllBytes(Path.Combine(folder.Path, "model.safetensors"));
    });

    [Theory]
    [InlineData(TrainerProcess.Sigint, StopSignals.SigintExitCode)]
    [InlineData(TrainerProcess.Sigterm, StopSignals.SigtermExitCode)]
    public async Task A_signalled_training_process_saves_its_last_step_exits_128_plus_signal_and_resumes_bit_for_bit(
        int signal, int exitCode)
    {
        var cancel = TestContext.Current.CancellationToken;
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "run");
        int code;
        string errors;
        using (var trainer = TrainerProcess.Start(
            ["train", "--data", MnistTestData.Directory, "--output", output, .. ProcessRecipe]))
        {
            Assert.True(await trainer.WaitForLine("Loss:", cancel),
                "the run printed no loss line: " + string.Join('\n', trainer.Lines));
            trainer.Signal(signal);
            (code, _, errors) = await trainer.WaitForExit(cancel);
        }

        Assert.True(code == exitCode, $"exit code {code}: {errors}");
        Assert.Matches(
            @"^Stopped as asked at epoch [12], step \d+ of 100: (saved|nothing new since) the checkpoint .+; " +
                @"continue with --resume .+\.$",
            errors.TrimEnd());
        Assert.DoesNotContain("   at ", errors);
        var saved = TrainingCheckpoint.Load(output);
        Assert.True(saved.OptimizerSteps >= 1 && saved.OptimizerSteps < 200,
            $"saved after {saved.OptimizerSteps} steps");
        Assert.Equal(100 * saved.Epoch + saved.Step, saved.OptimizerSteps);
        // A loss line was printed, so the live log has its row; a completed epoch also left the best model so far.
        string[] expected = saved.Epoch == 0 ? [TrainingCheckpoint.FileName, MetricsCsv.FileName]
            : [TrainingCheckpoint.FileName, Trainer.BestModelFileName, MetricsCsv.FileName];
        Assert.Equal(expected.Order(), Directory.GetFileSystemEntries(output).Select(Path.GetFileName).Order());

        // Resumed as `train --resume DIR` resumes: the recipe from the checkpoint.
        var (resumed, resumeErrors) = ResumeCommand(output, cancel);
        Assert.True(resumed == 0, resumeErrors);
        Assert.Equal(ProcessReference.Value, File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
    }
}
