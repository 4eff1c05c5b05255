using LeNet.Core.Files;
using System.Diagnostics;
using LeNet.Core.Backends;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Training;
using LeNet.Train.Pictures;
using LeNet.Train.Progress;

namespace LeNet.Train;

/// <summary>
/// The article's training run: a model variant (LeNet-5 by default), Adam, cross-entropy, shuffled mini-batches, a
/// loss line every 400 steps, test accuracy and a checkpoint after every epoch; then the model, the metrics and the
/// pictures are saved. A run given a checkpoint continues where it stopped. Asked to stop (Ctrl-C, SIGTERM), it saves
/// the state after its last completed step and ends; if the loss stops being finite, it ends at once, saving nothing,
/// so the last checkpoint stays the last good state.
/// </summary>
public sealed class Trainer(TrainOptions options, TextWriter log, TrainingProgress? progress = null)
{
    private static readonly JsonSerializerOptions JsonOptions =
        new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly TrainingProgress _progress = progress ?? new LogLinesProgress(log, options.LogEvery);
    private readonly TrainOptions _options = options;

    /// <summary>
    /// Trains on <paramref name="device"/> (default: the CPU the options name) until done or until
    /// <paramref name="stop"/> is cancelled, which saves the state and throws TrainingInterruptedException.
    /// </summary>
    public TrainingMetrics Run(MnistData data, TrainingCheckpoint? resume = null, Device? device = null,
        CancellationToken stop = default)
    {
        var total = Stopwatch.StartNew();
        var train = _options.Limit is { } limit ? data.Train.Take(limit) : data.Train;
        var test = _options.TestLimit is { } testLimit ? data.Test.Take(testLimit) : data.Test;
        if (_options.Threads is { } threads) CpuBackend.SetThreadCount(threads);
        device ??= _options.Kernels == "reference" ? Device.CpuReference : Device.Cpu;
        var model = ModelVariants.Create(_options.Model, classes: MnistDataset.DigitClasses,
            seed: _options.Seed).To(device);
        var optimizer = new Adam(model.Parameters(), _options.LearningRate);
        var where = device.IsCpu ? $"device cpu ({_options.Kernels} kernels, {CpuBackend.ThreadCount} threads)"
            : $"device {device.Description}";
        log.WriteLine($"{DisplayName(_options.Model)}: {model.ParameterCount():N0} trainable parameters; {where}; " +
            $"{train.Count:N0} training and {test.Count:N0} test images; batch {_options.BatchSize}, " +
            $"Adam lr {_options.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {_options.Seed}.");
        var metrics = resume?.Metrics ?? new TrainingMetrics
        {
            Model = _options.Model, Device = _options.Device, Seed = _options.Seed, BatchSize = _options.BatchSize,
            LearningRate = _options.LearningRate, TrainImages = train.Count, TestImages = test.Count,
        };
        var trainSource = BatchSource.Create(device, train.Images, train.Labels, 1, train.ImageSize, train.ImageSize);
        using var step = TrainingStep.Create(model, optimizer, trainSource, _options.BatchSize, _options.CudaGraphs);
        var run = new Session(this, data, test, step, optimizer, metrics, resume, total, stop, metrics.TotalSeconds,
            new MnistBatcher(train, _options.BatchSize, shuffle: true, seed: _options.Seed),
            BatchSource.Create(step.Data.Device, test.Images, test.Labels, 1, test.ImageSize, test.ImageSize));
        run.Resume();
        _progress.Run(() =>
        {
            for (var epoch = (resume?.Epoch ?? 0) + 1; epoch <= _options.Epochs; epoch++) run.TrainEpoch(epoch);
        });

        var evaluation = new Evaluation(test.Labels, run.Predictions ?? run.Predict(), data.ClassNames);
        metrics.FinalTestAccuracy = evaluation.Accuracy;
        // Two decimals, as each epoch's line: the article's 99.02 % reads the same, and 96.2 % becomes 96.20 %.
        var final = Invariant(metrics.FinalTestAccuracy, "F2");
        log.WriteLine($"Accuracy of the network on the {test.Count} test images: {final} %");

        Directory.CreateDirectory(_options.OutputDirectory);
        var modelPath = Path.Combine(_options.OutputDirectory, "model.safetensors");
        SafeTensors.Save(modelPath, model.StateDict(), new Dictionary<string, string>
        {
            ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = _options.Model, ["classes"] = "10",
            ["class_names"] = JsonSerializer.Serialize(data.ClassNames),
            ["input"] = $"[N, 1, {train.ImageSize}, {train.ImageSize}]",
            ["normalization"] =
                $"train mean {Invariant(MnistPreprocessing.TrainMean)} std {Invariant(MnistPreprocessing.TrainStd)}",
        });
        var pictures = _options.Pictures && DrawPictures(metrics, evaluation, test);
        metrics.TotalSeconds = run.PreviousSeconds + total.Elapsed.TotalSeconds;
        var metricsPath = _options.MetricsFile ?? Path.Combine(_options.OutputDirectory, "metrics.json");
        AtomicFile.WriteAllText(metricsPath, JsonSerializer.Serialize(metrics, JsonOptions));
        log.WriteLine($"Trained in {Invariant(metrics.TrainingSeconds, "F1")} s; model saved to {modelPath}, metrics " +
            $"to {metricsPath}" +
            (pictures ? $", pictures and checkpoint to {_options.OutputDirectory}." : "."));
        return metrics;
    }

    // The pictures are a view of a run that has trained: one that cannot be drawn is a warning, never the run's end.
    private bool DrawPictures(TrainingMetrics metrics, Evaluation evaluation, MnistDataset test)
    {
        try
        {
            TrainingPictures.Draw(_options.OutputDirectory, metrics, evaluation, test);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.WriteLine($"Warning: the pictures could not be drawn ({FileText.Printable(e.Message)}); the model and " +
                "metrics are saved as usual.");
            return false;
        }
    }

    /// <summary>
    /// One run's epochs: each shuffles the batches, runs the training step over them, reads the losses back (every step
    /// on the CPU; at log lines, the epoch's end and a stop on a GPU, where reading waits), evaluates and checkpoints.
    /// </summary>
    private sealed class Session(Trainer trainer, MnistData data, MnistDataset test, TrainingStep step, Adam adam,
        TrainingMetrics metrics, TrainingCheckpoint? resume, Stopwatch total, CancellationToken stop,
        double previousSeconds, MnistBatcher batches, BatchSource testSource)
    {
        private string? _savedPath, _saved; // the last state saved: the checkpoint resumed from, then this run's own
        private bool _unsaved;
        private double _lossSum;
        private int _seen;

        private TrainOptions Options => trainer._options;
        private string CheckpointPath => Path.Combine(Options.OutputDirectory, TrainingCheckpoint.FileName);
        public double PreviousSeconds => previousSeconds;
        /// <summary>The test set's predictions after the last epoch trained, if any.</summary>
        public int[]? Predictions { get; private set; }

        public int[] Predict() => Evaluation.Predict(step.Model, testSource);

        public void Resume()
        {
            if (resume is null) return;
            if (resume.Step >= step.StepsPerEpoch)
                throw new CheckpointException(
                    $"The checkpoint {resume.Path} stopped {resume.Step} steps into an epoch, but an epoch of this " +
                    $"run has {step.StepsPerEpoch}; resume with the data and --limit of the run that wrote it.");
            resume.Restore(step.Model, adam);
            (_savedPath, _saved) = (resume.Path, $"{resume.Path} ({Position(resume.Epoch, resume.Step)})");
            trainer.Log($"Resuming from {resume.Path}: {resume.Epoch} of {Options.Epochs} epochs done" +
                (resume.Step > 0 ? $" and {resume.Step} of {step.StepsPerEpoch} steps of epoch {resume.Epoch + 1}"
                    : "") + $", Adam step {resume.AdamSteps}.");
        }

        public void TrainEpoch(int epoch)
        {
            // A run interrupted mid-epoch resumes with the next step, its loss sum and seconds carried over.
            var partial = resume is { Step: > 0 } && epoch == resume.Epoch + 1 ? resume : null;
            var firstStep = partial?.Step ?? 0;
            var steps = step.StepsPerEpoch;
            step.Model.Train();
            batches.StartEpoch(epoch - 1);
            trainer._progress.EpochStarted(epoch, Options.Epochs, steps, batches.Dataset.Count);
            var clock = Stopwatch.StartNew();
            var earlierSeconds = partial?.EpochSeconds ?? 0;
            (_lossSum, _seen) = (partial?.EpochLossSum ?? 0, firstStep * Options.BatchSize);
            if (partial is not null) trainer._progress.EpochResumed(firstStep, _lossSum, _seen);
            step.StartEpoch(batches.Order, firstStep);
            while (step.Step < steps)
            {
                if (stop.IsCancellationRequested)
                {
                    ReadLosses(epoch);
                    Interrupt(epoch, earlierSeconds + clock.Elapsed.TotalSeconds);
                }
                var replayed = step.ReplaysSteps;
                try { step.Run(); }
                catch (StepCaptureException exception)
                {
                    throw new TrainingFailedException($"{exception.Message}; the run stopped there, writing nothing " +
                        "since its last checkpoint; run with --cuda-graphs off to launch the kernels step by step.");
                }
                _unsaved = true;
                if (!replayed && step.ReplaysSteps)
                    trainer.Log($"CUDA graphs: step {step.Step} of epoch {epoch} was captured; every later step of " +
                        $"{Options.BatchSize} images replays it.");
                if (step.IsSynchronous || step.Step % Options.LogEvery == 0 || step.Step == steps) ReadLosses(epoch);
            }
            var seconds = earlierSeconds + clock.Elapsed.TotalSeconds;
            Predictions = Predict();
            var accuracy = new Evaluation(test.Labels, Predictions, data.ClassNames).Accuracy;
            var entry = new EpochMetrics(epoch, seconds, batches.Dataset.Count / seconds, _lossSum / steps, accuracy);
            metrics.Epochs.Add(entry);
            metrics.TrainingSeconds += seconds;
            metrics.FinalTestAccuracy = accuracy;
            metrics.TotalSeconds = PreviousSeconds + total.Elapsed.TotalSeconds;
            TrainingCheckpoint.Save(Options.OutputDirectory, Options, step.Model, adam, epoch, metrics,
                data.ClassNames, data.Identity);
            (_savedPath, _saved, _unsaved) = (CheckpointPath, $"{CheckpointPath} ({Position(epoch, 0)})", false);
            trainer._progress.EpochEnded(entry,
                $"Epoch [{epoch}/{Options.Epochs}] took {Invariant(seconds, "F2")} s " +
                $"({Invariant(entry.ImagesPerSecond, "N0")} images/s), mean loss {Invariant(entry.MeanLoss, "F4")}, " +
                $"test accuracy {Invariant(accuracy, "F2")} %");
        }

        // Counts the losses of the steps run since the last read (on a GPU one copy, which waits), checking each.
        private void ReadLosses(int epoch)
        {
            var losses = step.ReadLosses();
            var first = step.Step - losses.Length;
            for (var i = 0; i < losses.Length; i++)
            {
                var (value, number) = (losses[i], first + i + 1);
                if (!float.IsFinite(value))
                    throw new TrainingDivergedException(
                        $"Training diverged: the loss became {value} at epoch {epoch}, step {number}, so the run " +
                        "stopped, " +
                        (_saved is null ? "having saved nothing" : $"keeping the last checkpoint {_saved}") +
                        "; try a smaller --lr.");
                _lossSum += value;
                _seen += step.BatchLength(number - 1);
                trainer._progress.StepEnded(number, value, _seen);
            }
        }

        // Saves the state after the steps done in `epoch` (unless the last checkpoint holds it) and ends the run.
        private void Interrupt(int epoch, double seconds)
        {
            var stepsDone = step.Step;
            if (_unsaved)
            {
                metrics.TotalSeconds = PreviousSeconds + total.Elapsed.TotalSeconds;
                TrainingCheckpoint.Save(Options.OutputDirectory, Options, step.Model, adam, epoch - 1, metrics,
                    data.ClassNames, data.Identity, stepsDone, _lossSum, seconds);
                (_savedPath, _saved) = (CheckpointPath, $"{CheckpointPath} ({Position(epoch - 1, stepsDone)})");
            }
            throw new TrainingInterruptedException(
                $"Stopped as asked at epoch {epoch}, step {stepsDone} of {step.StepsPerEpoch}: " + (_saved is null
                ? "no step was completed, so nothing is saved; run it again to train."
                : $"{(_unsaved ? "saved" : "nothing new since")} the checkpoint {_saved}; continue with --resume " +
                    $"{Path.GetDirectoryName(_savedPath)}."));
        }
    }

    private void Log(string line) => log.WriteLine(line);

    /// <summary>Where a checkpoint stands: "after epoch 2", or "after step 7 of epoch 3" (interrupted).</summary>
    private static string Position(int epochsDone, int step) =>
        step > 0 ? $"after step {step} of epoch {epochsDone + 1}" : epochsDone > 0 ? $"after epoch {epochsDone}"
            : "before training";

    /// <summary>Accuracy in percent on a dataset, in evaluation mode and without recording gradients.</summary>
    public static double Evaluate(Module model, MnistDataset dataset) =>
        Evaluation.Run(model, dataset, ClassNamesFile.Digits).Accuracy;

    /// <summary>The name the first log line gives a variant; the seed's "LeNet-5" for the default.</summary>
    public static string DisplayName(string variant) => variant switch
    {
        LeNet5.ModelName => "LeNet-5",
        LeNet5Table.ModelName => "LeNet-5 (the article's table)",
        LeNet1998.ModelName => "LeNet-5 (1998, tanh)",
        _ => variant,
    };

    private static string Invariant(double value, string? format = null) =>
        value.ToString(format, CultureInfo.InvariantCulture);
}
