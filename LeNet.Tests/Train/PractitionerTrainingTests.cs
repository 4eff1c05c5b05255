using System.Globalization;
using System.Text.Json;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;
using LeNet.Train.Progress;

namespace LeNet.Tests.Train;

/// <summary>
/// The options a practitioner trains with: optimisers and schedules (resumed bit for bit), a validation split with
/// the best model kept, early stopping, the live metrics.csv, and never replacing another run's model by accident.
/// </summary>
public class PractitionerTrainingTests
{
    private static Lazy<MnistData> Data => InterruptTests.Data;

    /// <summary>704 images of which 64 held out: 10 steps of 64 per epoch, 3 epochs.</summary>
    private static TrainOptions Recipe(string output) => new()
    {
        DataDirectory = MnistTestData.Directory, Limit = 704, Validation = 64, TestLimit = 100, Epochs = 3, Seed = 9,
        LogEvery = 5, OutputDirectory = output, Pictures = false,
    };

    private static TrainingMetrics Train(TrainOptions options, TextWriter? log = null,
        TrainingProgress? progress = null, TrainingCheckpoint? resume = null) =>
        new Trainer(options, log ?? TextWriter.Null, progress)
            .Run(Data.Value, resume, stop: TestContext.Current.CancellationToken);

    public static TheoryData<string, string> OptimisersAndSchedules() => new()
    {
        { "sgd", "onecycle" }, { "adamw", "cosine" }, { "adam", "step" },
    };

    [Theory]
    [MemberData(nameof(OptimisersAndSchedules))]
    public void A_run_with_a_schedule_stopped_mid_epoch_resumes_to_the_uninterrupted_runs_weights_and_metrics(
        string optimizer, string schedule)
    {
        TrainOptions Options(string folder) => Recipe(folder) with
        {
            Optimizer = optimizer, Momentum = optimizer == "sgd" ? 0.9f : 0, Nesterov = optimizer == "sgd",
            LearningRate = optimizer == "sgd" ? 0.05f : 0.003f, Schedule = schedule,
            Warmup = schedule == "onecycle" ? 0 : 4,
        };
        using var whole = new TemporaryFolder();
        var uninterrupted = Train(Options(whole.Path));

        using var folder = new TemporaryFolder();
        using (var stop = new CancellationTokenSource())
            Assert.Throws<TrainingInterruptedException>(() =>
                new Trainer(Options(folder.Path), TextWriter.Null, new InterruptTests.StopAfter(2, 4, stop))
                    .Run(Data.Value, stop: stop.Token));
        var checkpoint = TrainingCheckpoint.Load(folder.Path);
        Assert.Equal((1, 4, 14), (checkpoint.Epoch, checkpoint.Step, checkpoint.OptimizerSteps));
        Assert.Equal((optimizer, schedule), (checkpoint.Recipe.Optimizer, checkpoint.Recipe.Schedule));
        var resumed = Train(Options(folder.Path), resume: checkpoint);

        Assert.Equal(File.ReadAllBytes(Path.Combine(whole.Path, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(folder.Path, "model.safetensors")));
        Assert.Equal(
            uninterrupted.Epochs.Select(e => (e.MeanLoss, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate)),
            resumed.Epochs.Select(e => (e.MeanLoss, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate)));
        // The rates really changed along the run, as the schedule says.
        Assert.True(uninterrupted.Epochs.Select(e => e.LearningRate).Distinct().Count() > 1);
    }

    [Fact]
    public void Each_step_uses_its_schedules_rate()
    {
        using var folder = new TemporaryFolder();
        var metrics = Train(Recipe(folder.Path) with { Schedule = "cosine", Warmup = 3, LearningRate = 0.002f,
            Epochs = 2 });
        var schedule = LeNet.Core.Optim.LearningRateSchedule.Create("cosine", 0.002f, 20, 3, 10);
        // A curve point every step here (10 steps per epoch), each with the rate of its step.
        Assert.Equal(Enumerable.Range(1, 20), metrics.Steps.Select(p => p.Step));
        Assert.Equal(Enumerable.Range(0, 20).Select(k => (double)schedule.RateAt(k)),
            metrics.Steps.Select(p => p.LearningRate));
        Assert.Equal((double)schedule.RateAt(19), metrics.Epochs[^1].LearningRate);
    }

    [Fact]
    public void With_images_held_out_each_epoch_reports_training_and_validation_and_the_test_set_is_evaluated_once()
    {
        using var folder = new TemporaryFolder();
        var log = new StringWriter();
        var metrics = Train(Recipe(folder.Path), log);

        Assert.Equal((640, 64), (metrics.TrainImages, metrics.ValidationImages));
        Assert.All(metrics.Epochs, e =>
        {
            Assert.Null(e.TestAccuracy);
            Assert.InRange(e.TrainAccuracy!.Value, 0, 100);
            Assert.InRange(e.ValidationAccuracy!.Value, 0, 100);
            Assert.True(double.IsFinite(e.ValidationLoss!.Value) && e.ValidationLoss > 0);
        });
        var lines = log.ToString().Split('\n');
        Assert.Contains(lines, l => l.StartsWith("Epoch [1/3] took ") && l.Contains(", train accuracy ") &&
            l.Contains(", validation loss ") && !l.Contains("test accuracy"));
        Assert.Contains(lines, l => l.StartsWith("Accuracy of the network on the 100 test images: "));
        // The best epoch's model is kept and is the model of that epoch: here the run's best validation accuracy.
        var best = metrics.Epochs.Single(e => e.Epoch == metrics.BestEpoch);
        Assert.Equal(metrics.Epochs.Max(e => e.ValidationAccuracy), best.ValidationAccuracy);
        Assert.Equal(metrics.Epochs.First(e => e.ValidationAccuracy == best.ValidationAccuracy).Epoch, best.Epoch);
        var bestModel = SavedModel.Load(Path.Combine(folder.Path, Trainer.BestModelFileName));
        var heldOut = Data.Value.Train.Take(704).SplitValidation(64, 9).Validation;
        Assert.Equal(best.ValidationAccuracy, Evaluation.Run(bestModel.Model, heldOut, ClassNamesFile.Digits).Accuracy);

        // --test-every-epoch adds the test set back to every epoch.
        using var other = new TemporaryFolder();
        Assert.All(Train(Recipe(other.Path) with { TestEveryEpoch = true }).Epochs, e =>
            Assert.NotNull(e.TestAccuracy));
    }

    [Fact]
    public void The_held_out_images_are_the_same_share_of_every_class_and_never_trained_on()
    {
        var all = Data.Value.Train.Take(704);
        var (train, validation) = all.SplitValidation(64, 9);
        Assert.Equal(704, train.Count + validation.Count);
        var wholeShare = all.Labels.CountBy(l => l).ToDictionary(p => p.Key, p => p.Value * 64.0 / 704);
        foreach (var (label, count) in validation.Labels.CountBy(l => l))
            Assert.InRange(count, Math.Floor(wholeShare[label]), Math.Ceiling(wholeShare[label]));
        var trained = Enumerable.Range(0, train.Count).Select(i => Convert.ToBase64String(MemoryMarshalBytes(train, i)))
            .ToHashSet();
        Assert.DoesNotContain(Enumerable.Range(0, validation.Count), i =>
            trained.Contains(Convert.ToBase64String(MemoryMarshalBytes(validation, i))));

        static byte[] MemoryMarshalBytes(MnistDataset set, int i) =>
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(
                set.Images.AsSpan(i * set.ImageLength, set.ImageLength)).ToArray();
    }

    [Fact]
    public void The_best_epoch_and_early_stopping_follow_the_monitored_metric_on_a_crafted_plateau()
    {
        var options = new TrainOptions { Validation = 100, Patience = 2, Epochs = 10 };
        var metrics = new TrainingMetrics { Model = "lenet5", Device = "cpu", Seed = 0, BatchSize = 64,
            LearningRate = 1e-3f, TrainImages = 1, TestImages = 1 };
        double[] validation = [90, 95, 94.5, 96, 96, 95];
        string?[] reasons = new string?[validation.Length];
        for (var i = 0; i < validation.Length; i++)
        {
            var entry = new EpochMetrics(i + 1, 1, 1, 0.5, null) { ValidationAccuracy = validation[i] };
            if (EarlyStopping.Improves(entry, metrics.Epochs.FirstOrDefault(e => e.Epoch == metrics.BestEpoch)))
                metrics.BestEpoch = entry.Epoch;
            metrics.Epochs.Add(entry);
            reasons[i] = EarlyStopping.StopReason(options, metrics, entry);
        }
        // Epoch 3 falls back (one without), 96 at epoch 4 resets the count, a tie at 5 is no improvement and 6 falls:
        // two epochs without, so the run stops after epoch 6.
        Assert.Equal(4, metrics.BestEpoch);
        Assert.Equal([null, null, null, null, null,
            "Stopped after epoch 6: the validation accuracy has not improved for 2 epochs; the best, epoch 4, is in " +
                $"{Trainer.BestModelFileName}."],
            reasons);

        // Without held-out images the mean training loss is watched: lower is better.
        Assert.True(EarlyStopping.Improves(new EpochMetrics(2, 1, 1, 0.3, 98), new EpochMetrics(1, 1, 1, 0.4, 99)));
        Assert.False(EarlyStopping.Improves(new EpochMetrics(2, 1, 1, 0.4, 99), new EpochMetrics(1, 1, 1, 0.4, 98)));
        var target = new TrainOptions { TargetAccuracy = 97.5 };
        Assert.Equal("Stopped after epoch 3: the test accuracy 97.50 % reached the target 97.5 %.",
            EarlyStopping.StopReason(target, metrics, new EpochMetrics(3, 1, 1, 0.4, 97.5)));
        Assert.Null(EarlyStopping.StopReason(target, metrics, new EpochMetrics(3, 1, 1, 0.4, 97.49)));
    }

    [Fact]
    public void A_run_with_patience_on_a_model_that_does_not_learn_stops_and_says_why()
    {
        using var folder = new TemporaryFolder();
        var log = new StringWriter();
        // lenet1998 has no BatchNorm, so with a rate of 1e-12 nothing it computes in evaluation changes: a plateau.
        var metrics = Train(Recipe(folder.Path) with { Model = "lenet1998", LearningRate = 1e-12f, Epochs = 10,
            Patience = 2 }, log);

        Assert.Equal(3, metrics.Epochs.Count);
        Assert.Equal(1, metrics.BestEpoch);
        Assert.Equal(
            "Stopped after epoch 3: the validation accuracy has not improved for 2 epochs; the best, epoch 1, is in " +
                $"{Trainer.BestModelFileName}.",
            metrics.StopReason);
        Assert.Contains(metrics.StopReason + "\n", log.ToString());
        Assert.True(File.Exists(Path.Combine(folder.Path, "model.safetensors")));
        Assert.Equal(3, TrainingCheckpoint.Load(folder.Path).Epoch);
    }

    [Fact]
    public void A_run_with_a_target_accuracy_stops_once_the_validation_accuracy_reaches_it()
    {
        using var folder = new TemporaryFolder();
        var metrics = Train(Recipe(folder.Path) with { Epochs = 10, TargetAccuracy = 30, LearningRate = 0.01f });
        Assert.Single(metrics.Epochs);
        Assert.True(metrics.Epochs[0].ValidationAccuracy >= 30);
        Assert.StartsWith("Stopped after epoch 1: the validation accuracy ", metrics.StopReason);
    }

    [Fact]
    public void Metrics_csv_gets_a_row_at_every_log_step_and_epoch_and_a_resumed_run_appends()
    {
        using var folder = new TemporaryFolder();
        var losses = new List<float>();
        var metrics = Train(Recipe(folder.Path) with { Epochs = 2 }, progress: new Recording(losses));
        var rows = File.ReadAllLines(Path.Combine(folder.Path, MetricsCsv.FileName));

        Assert.Equal(MetricsCsv.Header, rows[0]);
        var cells = rows.Skip(1).Select(r => r.Split(',')).ToArray();
        Assert.All(cells, c => Assert.Equal(MetricsCsv.Header.Split(',').Length, c.Length));
        Assert.Equal(["step,1,5", "step,1,10", "epoch,1,10", "step,2,5", "step,2,10", "epoch,2,10"],
            cells.Select(c => string.Join(',', c[..3])));
        // A step row holds that step's loss, as the log line; an epoch row the epoch's mean loss and accuracies.
        Assert.Equal(losses[4], float.Parse(cells[0][6], CultureInfo.InvariantCulture));
        Assert.Equal(losses[19], float.Parse(cells[4][6], CultureInfo.InvariantCulture));
        Assert.Equal(metrics.Epochs[1].MeanLoss, double.Parse(cells[5][6], CultureInfo.InvariantCulture), 1e-8);
        Assert.Equal(metrics.Epochs[1].ValidationAccuracy!.Value,
            double.Parse(cells[5][10], CultureInfo.InvariantCulture), 1e-6);
        Assert.Equal("", cells[5][11]); // no test accuracy that epoch

        // Resumed with more epochs: the file grows, its rows so far kept.
        Train(Recipe(folder.Path) with { Epochs = 3 }, resume: TrainingCheckpoint.Load(folder.Path));
        var after = File.ReadAllLines(Path.Combine(folder.Path, MetricsCsv.FileName));
        Assert.Equal(rows, after[..rows.Length]);
        Assert.Equal(["step,3,5", "step,3,10", "epoch,3,10"],
            after[rows.Length..].Select(r => string.Join(',', r.Split(',')[..3])));
    }

    private sealed class Recording(List<float> losses) : TrainingProgress
    {
        public override void Run(Action body) => body();
        public override void EpochStarted(int epoch, int epochs, int steps, int images) { }
        public override void StepEnded(int step, float loss, int images) => losses.Add(loss);
        public override void EpochEnded(EpochMetrics metrics, string summary) { }
    }

    [Fact]
    public void Training_into_a_folder_with_another_runs_model_is_refused_unless_overwrite_is_given()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(Path.Combine(folder.Path, "model.safetensors"), "theirs");
        File.WriteAllText(Path.Combine(folder.Path, Trainer.BestModelFileName), "their best");
        var options = Recipe(folder.Path) with { Epochs = 1 };
        var error = new StringWriter();

        Assert.Equal(1, TrainCommand.Run(options, TextWriter.Null, error, TestContext.Current.CancellationToken));
        Assert.Equal(
            $"The folder {folder.Path} holds another run's model (model.safetensors); continue that run with " +
                $"--resume {folder.Path}, " +
            "replace it with --overwrite, or choose another --output.", error.ToString().TrimEnd());
        Assert.Equal("theirs", File.ReadAllText(Path.Combine(folder.Path, "model.safetensors")));

        Assert.Equal(0, TrainCommand.Run(options with { Overwrite = true }, TextWriter.Null, error,
            TestContext.Current.CancellationToken));
        Assert.NotEqual("their best", File.ReadAllText(Path.Combine(folder.Path, Trainer.BestModelFileName)));
        SavedModel.Load(Path.Combine(folder.Path, "model.safetensors"));
    }

    [Theory]
    [InlineData("--momentum", "--momentum and --nesterov are SGD's; with --optimizer adam use --betas.")]
    [InlineData("--nesterov", "--nesterov needs a positive --momentum.")]
    [InlineData("--warmup",
        "--warmup does not apply to --schedule onecycle, which warms up by itself (its first 30 % of steps).")]
    [InlineData("--target-accuracy",
        "--target-accuracy needs an accuracy to watch: hold images out with --validation, or add --test-every-epoch.")]
    [InlineData("--betas", "--betas must be two numbers in [0, 1), not '1,0.999'.")]
    public void Options_that_cannot_work_together_are_refused_in_one_sentence(string option, string expected)
    {
        var options = option switch
        {
            "--momentum" => new TrainOptions { Momentum = 0.9f },
            "--nesterov" => new TrainOptions { Optimizer = "sgd", Nesterov = true },
            "--warmup" => new TrainOptions { Schedule = "onecycle", Warmup = 10 },
            "--target-accuracy" => new TrainOptions { TargetAccuracy = 99, Validation = 0, TestEveryEpoch = false },
            _ => new TrainOptions { Betas = (1f, 0.999f) },
        };
        Assert.Equal(expected, options.Problem());
    }

    [Fact]
    public void Holding_out_every_training_image_is_refused_before_training()
    {
        using var folder = new TemporaryFolder();
        var error = new StringWriter();
        Assert.Equal(1, TrainCommand.Run(Recipe(folder.Path) with { Validation = 704 }, TextWriter.Null, error,
            TestContext.Current.CancellationToken));
        Assert.Equal("--validation 704 holds out every training image; the run has 704, so hold out fewer.",
            error.ToString().TrimEnd());
    }

    [Fact]
    public void Resuming_a_cosine_run_with_more_epochs_is_refused_because_every_rate_would_change()
    {
        using var folder = new TemporaryFolder();
        Train(Recipe(folder.Path) with { Epochs = 1, Schedule = "cosine" });
        var error = new StringWriter();
        var code = TrainCommand.Run(new TrainOptions { Resume = folder.Path, Epochs = 2, Pictures = false },
            TextWriter.Null, error, TestContext.Current.CancellationToken, given: new HashSet<string> { "--epochs" });
        Assert.Equal(1, code);
        Assert.Contains(
            "follows a cosine schedule fitted to --epochs 1, which more epochs would change; resume with --epochs 1.",
            error.ToString());
    }
}
