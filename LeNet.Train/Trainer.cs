using LeNet.Core.Files;
using System.Diagnostics;
using LeNet.Core.Backends;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Training;
using LeNet.Kernels;
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
    /// Trains on <paramref name="device"/> (default: the CPU the options name) until done, stopped early (patience,
    /// target accuracy) or until <paramref name="stop"/> is cancelled, which saves the state and throws
    /// TrainingInterruptedException.
    /// </summary>
    public TrainingMetrics Run(MnistData data, TrainingCheckpoint? resume = null, Device? device = null,
        CancellationToken stop = default)
    {
        var total = Stopwatch.StartNew();
        var (train, validation, test) = Datasets(data);
        if (_options.Threads is { } threads) CpuBackend.SetThreadCount(threads);
        device ??= _options.Kernels == "reference" ? Device.CpuReference : Device.Cpu;
        var model = ModelVariants.Create(_options.Model, classes: data.ClassNames.Count, seed: _options.Seed)
            .To(device);
        var optimizer = CreateOptimizer(model);
        LogStart(model, device, train, validation, test);
        var metrics = resume?.Metrics ?? NewMetrics(train, validation, test);
        metrics.StopReason = null; // a resumed run was asked to go on, whatever stopped it before
        using var step = TrainingStep.Create(model, optimizer, TrainingSource(device, train), _options.BatchSize,
            _options.CudaGraphs);
        step.Schedule = CreateSchedule(step.StepsPerEpoch);
        Directory.CreateDirectory(_options.OutputDirectory);
        using var csv = MetricsCsv.Open(Path.Combine(_options.OutputDirectory, MetricsCsv.FileName),
            append: resume is not null);
        var run = new Session(this, data, test, validation, step, optimizer, metrics, resume, total, stop,
            metrics.TotalSeconds, new MnistBatcher(train, _options.BatchSize, shuffle: true, seed: _options.Seed), csv);
        run.Resume();
        var firstEpoch = (resume?.Epoch ?? 0) + 1;
        _progress.RunStarted(_options.Model, model, data.ClassNames, _options.Epochs, step.StepsPerEpoch, firstEpoch,
            resume?.Step ?? 0);
        _progress.Run(() =>
        {
            for (var epoch = firstEpoch; epoch <= _options.Epochs && metrics.StopReason is null; epoch++)
                run.TrainEpoch(epoch);
        });
        if (metrics.StopReason is { } reason) log.WriteLine(reason);
        Finish(run, model, metrics, data, train.ImageSize, test, total);
        return metrics;
    }

    // The training images (less those held out for validation, chosen by the seed) and the test images, as limited.
    private (MnistDataset Train, MnistDataset? Validation, MnistDataset Test) Datasets(MnistData data)
    {
        var all = _options.Limit is { } limit ? data.Train.Take(limit) : data.Train;
        var (train, validation) = _options.Validation > 0 ? all.SplitValidation(_options.Validation, _options.Seed)
            : (all, null);
        return (train, validation, _options.TestLimit is { } testLimit ? data.Test.Take(testLimit) : data.Test);
    }

    // The first lines: the model, where it trains, on what, and the recipe; then the model's layers.
    private void LogStart(Module model, Device device, MnistDataset train, MnistDataset? validation,
        MnistDataset test)
    {
        var where = device.IsCpu ? $"device cpu ({_options.Kernels} kernels, {CpuBackend.ThreadCount} threads)"
            : $"device {device.Description}";
        log.WriteLine($"{DisplayName(_options.Model)}: {model.ParameterCount():N0} trainable parameters; {where}; " +
            $"{train.Count:N0} training " + (validation is null ? "" : $"(and {validation.Count:N0} validation) ") +
            $"and {test.Count:N0} test images; batch {_options.BatchSize}, {Recipe()}, seed {_options.Seed}.");
        foreach (var line in ModelSummary.Of(model, 1, train.ImageSize, train.ImageSize).CompactLines())
            log.WriteLine(line);
    }

    private TrainingMetrics NewMetrics(MnistDataset train, MnistDataset? validation, MnistDataset test) => new()
    {
        Model = _options.Model, Device = _options.Device, Seed = _options.Seed, BatchSize = _options.BatchSize,
        LearningRate = _options.LearningRate, TrainImages = train.Count, TestImages = test.Count,
        Optimizer = _options.Optimizer, Schedule = _options.Schedule, ValidationImages = validation?.Count ?? 0,
    };

    // The training batches, gathered on the training device and, with --augment, distorted there (the background
    // a blank pixel normalised).
    private BatchSource TrainingSource(Device device, MnistDataset train)
    {
        var source = BatchSource.Create(device, train.Images, train.Labels, 1, train.ImageSize, train.ImageSize);
        if (_options.Augment)
            source.SetAugmentation(new Augmentation(-MnistPreprocessing.TrainMean / MnistPreprocessing.TrainStd),
                _options.Seed);
        return source;
    }

    // The end of a run: the final test accuracy, the model, the pictures and the metrics file.
    private void Finish(Session run, Module model, TrainingMetrics metrics, MnistData data, int imageSize,
        MnistDataset test, Stopwatch total)
    {
        var evaluation = run.LastTest ?? run.Evaluate(test);
        (metrics.FinalTestAccuracy, metrics.FinalTestLoss) = (evaluation.Accuracy, Finite(evaluation.Loss));
        // Two decimals, as each epoch's line: the article's 99.02 % reads the same, and 96.2 % becomes 96.20 %.
        var final = Invariant(metrics.FinalTestAccuracy, "F2");
        log.WriteLine($"Accuracy of the network on the {test.Count} test images: {final} %");
        _progress.RunEnded(model, metrics.FinalTestAccuracy, metrics.StopReason);

        Directory.CreateDirectory(_options.OutputDirectory);
        var modelPath = Path.Combine(_options.OutputDirectory, ModelFileName);
        SaveModel(modelPath, model, data, imageSize);
        var pictures = _options.Pictures && DrawPictures(metrics, evaluation, test);
        metrics.TotalSeconds = run.PreviousSeconds + total.Elapsed.TotalSeconds;
        var metricsPath = _options.MetricsFile ?? Path.Combine(_options.OutputDirectory, "metrics.json");
        AtomicFile.WriteAllText(metricsPath, JsonSerializer.Serialize(metrics, JsonOptions));
        log.WriteLine($"Trained in {Invariant(metrics.TrainingSeconds, "F1")} s; model saved to {modelPath}, metrics " +
            $"to {metricsPath}" +
            (pictures ? $", pictures and checkpoint to {_options.OutputDirectory}." : "."));
    }

    public const string ModelFileName = "model.safetensors", BestModelFileName = "best.safetensors";

    private Optimizer CreateOptimizer(Module model) => CreateOptimizer(_options, model);

    private static Optimizer CreateOptimizer(TrainOptions options, Module model)
    {
        var (rate, decay, (beta1, beta2)) = (options.LearningRate, options.EffectiveWeightDecay, options.Betas);
        return options.Optimizer == "sgd"
            ? new Sgd(model.Parameters(), rate, options.Momentum, weightDecay: decay, nesterov: options.Nesterov)
            : new Adam(model.Parameters(), rate, beta1, beta2, weightDecay: decay,
                decoupled: options.Optimizer == "adamw");
    }

    /// <summary>
    /// Compiles the CPU training step's and evaluation's code while the data loads, so that the first epoch runs at
    /// the speed of the others: two steps and an evaluation batch of a throwaway model on blank images. Nothing of it
    /// is kept; the run's own model, optimiser and shuffling are made afterwards from their seeds.
    /// </summary>
    public static Task WarmUp(TrainOptions options, Device device)
    {
        if (!device.IsCpu) return Task.CompletedTask;
        if (options.Threads is { } threads) CpuBackend.SetThreadCount(threads);
        return Task.Run(() =>
        {
            var batch = options.BatchSize;
            var model = ModelVariants.Create(options.Model, seed: options.Seed).To(device);
            const int side = MnistPreprocessing.DefaultImageSize;
            var source = BatchSource.Create(device, new float[2 * batch * side * side], new int[2 * batch], 1, side,
                side);
            using var step = TrainingStep.Create(model, CreateOptimizer(options, model), source, batch);
            step.StartEpoch(Enumerable.Range(0, 2 * batch).ToArray());
            while (step.Step < step.StepsPerEpoch) step.Run();
            Evaluation.Predict(model, source, batch);
        });
    }

    // The seed's constant rate needs no schedule: the optimiser's own rate is used as it always was.
    private LearningRateSchedule? CreateSchedule(int stepsPerEpoch) =>
        _options.Schedule == "constant" && _options.Warmup == 0 ? null
            : LearningRateSchedule.Create(_options.Schedule, _options.LearningRate, _options.Epochs * stepsPerEpoch,
                _options.Warmup, stepsPerEpoch, _options.StepEpochs, _options.Gamma);

    // How the first line names the optimiser and its rate: the seed's "Adam lr 0.001", then what differs from it.
    private string Recipe()
    {
        var name = _options.Optimizer switch { "adamw" => "AdamW", "sgd" => "SGD", _ => "Adam" };
        var text = $"{name} lr {Invariant(_options.LearningRate)}";
        if (_options.Optimizer == "sgd" && _options.Momentum > 0)
            text += $" momentum {Invariant(_options.Momentum)}" + (_options.Nesterov ? " (Nesterov)" : "");
        if (_options.Optimizer != "sgd" && _options.Betas != (0.9f, 0.999f))
            text += $" betas ({Invariant(_options.Betas.Beta1)}, {Invariant(_options.Betas.Beta2)})";
        if (_options.EffectiveWeightDecay > 0) text += $" weight decay {Invariant(_options.EffectiveWeightDecay)}";
        if (_options.Schedule != "constant") text += $", {_options.Schedule} schedule";
        if (_options.Warmup > 0) text += $", {_options.Warmup} warmup steps";
        return _options.Augment ? text + ", augmented" : text;
    }

    // The model file predict, evaluate and export read: the weights and what a reader needs to use them.
    private void SaveModel(string path, Module model, MnistData data, int imageSize) =>
        SafeTensors.Save(path, model.StateDict(), new Dictionary<string, string>
        {
            ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = _options.Model,
            ["classes"] = data.ClassNames.Count.ToString(CultureInfo.InvariantCulture),
            ["class_names"] = JsonSerializer.Serialize(data.ClassNames),
            ["input"] = $"[N, 1, {imageSize}, {imageSize}]",
            ["normalization"] =
                $"train mean {Invariant(MnistPreprocessing.TrainMean)} std {Invariant(MnistPreprocessing.TrainStd)}",
        });

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

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
            log.WriteLine("Warning: the pictures could not be drawn " +
                $"({FileText.Printable(e.Message)}); the model and " +
                "metrics are saved as usual.");
            return false;
        }
    }

    /// <summary>
    /// One run's epochs: each shuffles the batches, runs the training step over them, reads the losses back (every step
    /// on the CPU; at log lines, the epoch's end and a stop on a GPU, where reading waits), evaluates (validation, and
    /// the test set when asked), keeps the best model, decides whether to stop early, and checkpoints.
    /// </summary>
    private sealed class Session(Trainer trainer, MnistData data, MnistDataset test, MnistDataset? validation,
        TrainingStep step, Optimizer optimizer, TrainingMetrics metrics, TrainingCheckpoint? resume, Stopwatch total,
        CancellationToken stop, double previousSeconds, MnistBatcher batches, MetricsCsv csv)
    {
        // Training accuracy is measured in evaluation mode on this many training images, as validation is.
        private const int TrainAccuracyImages = 10_000;
        private readonly BatchSource _test = Source(step.Data.Device, test);
        private readonly BatchSource? _validation = validation is null ? null : Source(step.Data.Device, validation);
        private readonly MnistDataset? _trainSample = validation is null ? null
            : batches.Dataset.Take(Math.Min(TrainAccuracyImages, batches.Dataset.Count));
        private BatchSource? _trainSampleSource; // made once: on a GPU a source is an upload
        private readonly Stopwatch _clock = new();
        private string? _savedPath, _saved; // the last state saved: the checkpoint resumed from, then this run's own
        private bool _unsaved;
        private double _lossSum, _pointSum, _earlierSeconds;
        private int _seen, _pointSteps;

        private TrainOptions Options => trainer._options;
        private string CheckpointPath => Path.Combine(Options.OutputDirectory, TrainingCheckpoint.FileName);
        private int PointEvery => Math.Max(1, step.StepsPerEpoch / 100);
        public double PreviousSeconds => previousSeconds;
        /// <summary>The test set's evaluation after the last epoch trained, when it was evaluated then.</summary>
        public Evaluation? LastTest { get; private set; }

        private static BatchSource Source(Device device, MnistDataset set) =>
            BatchSource.Create(device, set.Images, set.Labels, 1, set.ImageSize, set.ImageSize);

        public Evaluation Evaluate(MnistDataset set, BatchSource? source = null) =>
            Evaluation.Run(step.Model, source ?? Source(step.Data.Device, set), set.Labels, data.ClassNames);

        public void Resume()
        {
            if (resume is null) return;
            if (resume.Step >= step.StepsPerEpoch)
                throw new CheckpointException(
                    $"The checkpoint {resume.Path} stopped {resume.Step} steps into an epoch, but an epoch of this " +
                    $"run has {step.StepsPerEpoch}; resume with the data and --limit of the run that wrote it.");
            resume.Restore(step.Model, optimizer);
            (_savedPath, _saved) = (resume.Path, $"{resume.Path} ({Position(resume.Epoch, resume.Step)})");
            trainer.Log($"Resuming from {resume.Path}: {resume.Epoch} of {Options.Epochs} epochs done" +
                (resume.Step > 0 ? $" and {resume.Step} of {step.StepsPerEpoch} steps of epoch {resume.Epoch + 1}"
                    : "") + $", {metrics.Optimizer switch { "sgd" => "SGD", "adamw" => "AdamW", _ => "Adam" }} " +
                $"step {resume.OptimizerSteps}.");
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
            _clock.Restart();
            _earlierSeconds = partial?.EpochSeconds ?? 0;
            (_lossSum, _seen, _pointSum, _pointSteps) = (partial?.EpochLossSum ?? 0,
                firstStep * Options.BatchSize, 0, 0);
            if (partial is not null) trainer._progress.EpochResumed(firstStep, _lossSum, _seen);
            step.Data.SetEpoch(epoch - 1);
            step.StartEpoch(batches.Order, firstStep, epoch - 1);
            while (step.Step < steps)
            {
                if (stop.IsCancellationRequested)
                {
                    ReadLosses(epoch);
                    Interrupt(epoch, _earlierSeconds + _clock.Elapsed.TotalSeconds);
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
                trainer._progress.BetweenSteps(step.Model);
            }
            var seconds = _earlierSeconds + _clock.Elapsed.TotalSeconds;
            var entry = Measure(epoch, seconds);
            metrics.TrainingSeconds += seconds;
            if (entry.TestAccuracy is { } testAccuracy) metrics.FinalTestAccuracy = testAccuracy;
            var best = metrics.Epochs.FirstOrDefault(e => e.Epoch == metrics.BestEpoch);
            var improved = EarlyStopping.Improves(entry, best);
            if (improved) metrics.BestEpoch = epoch;
            metrics.StopReason = EarlyStopping.StopReason(Options, metrics, entry);
            metrics.TotalSeconds = PreviousSeconds + total.Elapsed.TotalSeconds;
            metrics.Epochs.Add(entry);
            TrainingCheckpoint.Save(Options.OutputDirectory, Options, step.Model, optimizer, epoch, metrics,
                data.ClassNames, data.Identity);
            // After the checkpoint, which records the best epoch: a failed write leaves the two in step.
            if (improved)
                trainer.SaveModel(Path.Combine(Options.OutputDirectory, BestModelFileName), step.Model, data,
                    batches.Dataset.ImageSize);
            (_savedPath, _saved, _unsaved) = (CheckpointPath, $"{CheckpointPath} ({Position(epoch, 0)})", false);
            csv.Epoch(entry, steps, batches.Dataset.Count);
            trainer._progress.EpochEnded(entry, Summary(entry));
        }

        // The epoch's entry: validation (and the training sample) when held out, the test set when asked each epoch.
        private EpochMetrics Measure(int epoch, double seconds)
        {
            LastTest = Options.EvaluatesTestEveryEpoch ? Evaluate(test, _test) : null;
            var held = _validation is null ? null : Evaluate(validation!, _validation);
            return new EpochMetrics(epoch, seconds, batches.Dataset.Count / seconds, _lossSum / step.StepsPerEpoch,
                LastTest?.Accuracy)
            {
                TrainAccuracy = _trainSample is null ? null
                    : Evaluate(_trainSample, _trainSampleSource ??= Source(step.Data.Device, _trainSample)).Accuracy,
                ValidationLoss = held?.Loss, ValidationAccuracy = held?.Accuracy,
                LearningRate = step.Schedule?.RateAt(epoch * step.StepsPerEpoch - 1) ?? Options.LearningRate,
            };
        }

        // The seed's line ("…, mean loss x, test accuracy y %"); held-out images add training and validation figures.
        private string Summary(EpochMetrics entry)
        {
            var line = $"Epoch [{entry.Epoch}/{Options.Epochs}] took {Invariant(entry.Seconds, "F2")} s " +
                $"({Invariant(entry.ImagesPerSecond, "N0")} images/s), mean loss {Invariant(entry.MeanLoss, "F4")}";
            if (entry.ValidationAccuracy is { } held)
                line += $", train accuracy {Invariant(entry.TrainAccuracy!.Value, "F2")} %, validation loss " +
                    $"{Invariant(entry.ValidationLoss!.Value, "F4")}, accuracy {Invariant(held, "F2")} %";
            if (entry.TestAccuracy is { } tested) line += $", test accuracy {Invariant(tested, "F2")} %";
            if (metrics.BestEpoch == entry.Epoch && Options.Validation > 0) line += " (best)";
            return line;
        }

        // Counts the losses of the steps run since the last read (on a GPU one copy, which waits), checking each.
        private void ReadLosses(int epoch)
        {
            var losses = step.ReadLosses();
            var first = step.Step - losses.Length;
            var steps = step.StepsPerEpoch;
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
                (_pointSum, _pointSteps) = (_pointSum + value, _pointSteps + 1);
                var runStep = (epoch - 1) * steps + number;
                var rate = step.Schedule?.RateAt(runStep - 1) ?? Options.LearningRate;
                if (number % PointEvery == 0 || number == steps)
                {
                    var point = new StepPoint(runStep, epoch, _pointSum / _pointSteps, rate);
                    metrics.Steps.Add(point);
                    trainer._progress.PointAdded(point);
                    (_pointSum, _pointSteps) = (0, 0);
                }
                if (number % Options.LogEvery == 0)
                    csv.Step(epoch, number, runStep, _seen, _earlierSeconds + _clock.Elapsed.TotalSeconds, value, rate);
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
                TrainingCheckpoint.Save(Options.OutputDirectory, Options, step.Model, optimizer, epoch - 1, metrics,
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

    private static string Invariant(float value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(double value, string? format = null) =>
        value.ToString(format, CultureInfo.InvariantCulture);
}
