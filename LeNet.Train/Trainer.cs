using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Serialization;
using Workers = LeNet.Kernels.Cpu.Workers;
using LeNet.Mnist;
using LeNet.Train.Pictures;
using LeNet.Train.Progress;

namespace LeNet.Train;

/// <summary>
/// The article's training run: a model variant (LeNet-5 by default), Adam, cross-entropy, shuffled mini-batches, a
/// loss line every 400 steps, test accuracy and a checkpoint after every epoch, test accuracy at the end; then the
/// model, the metrics and the pictures are saved. A run given a checkpoint continues where it stopped. Asked to stop
/// (<c>stop</c>: Ctrl-C, SIGTERM), it saves the state after its last completed step and ends; if the loss stops being
/// finite, it ends at once, saving nothing, so the last checkpoint stays the last good state.
/// </summary>
public sealed class Trainer(TrainOptions options, TextWriter log, TrainingProgress? progress = null)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly TrainingProgress _progress = progress ?? new LogLinesProgress(log, options.LogEvery);

    /// <summary>
    /// Trains on <paramref name="device"/> (default: the CPU device <see cref="TrainOptions.Kernels"/> names) until done
    /// or until <paramref name="stop"/> is cancelled, which saves the state after the last completed step and throws
    /// <see cref="TrainingInterruptedException"/>.
    /// </summary>
    public TrainingMetrics Run(MnistData data, TrainingCheckpoint? resume = null, Device? device = null, CancellationToken stop = default)
    {
        var total = Stopwatch.StartNew();
        var train = options.Limit is { } limit ? data.Train.Take(limit) : data.Train;
        var test = options.TestLimit is { } testLimit ? data.Test.Take(testLimit) : data.Test;
        if (options.Threads is { } threads) Workers.SetThreadCount(threads);
        device ??= options.Kernels == "reference" ? Device.CpuReference : Device.Cpu;
        var model = ModelVariants.Create(options.Model, classes: MnistDataset.DigitClasses, seed: options.Seed);
        model.To(device);
        var optimizer = new Adam(model.Parameters(), options.LearningRate);
        var where = device.IsCpu ? $"device cpu ({options.Kernels} kernels, {Workers.ThreadCount} threads)" : $"device {device.Description}";
        log.WriteLine($"{DisplayName(options.Model)}: {model.ParameterCount():N0} trainable parameters; {where}; " +
                      $"{train.Count:N0} training and {test.Count:N0} test images; batch {options.BatchSize}, Adam lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {options.Seed}.");

        var metrics = resume?.Metrics ?? new TrainingMetrics
        {
            Model = options.Model, Device = options.Device, Seed = options.Seed, BatchSize = options.BatchSize,
            LearningRate = options.LearningRate, TrainImages = train.Count, TestImages = test.Count,
        };
        var previousSeconds = metrics.TotalSeconds;
        var batches = new MnistBatcher(train, options.BatchSize, shuffle: true, seed: options.Seed);
        var stepsPerEpoch = batches.BatchCount;
        if (resume is not null)
        {
            if (resume.Step >= stepsPerEpoch)
                throw new CheckpointException($"The checkpoint {resume.Path} stopped {resume.Step} steps into an epoch, but an epoch of this run has {stepsPerEpoch}; resume with the data and --limit of the run that wrote it.");
            resume.Restore(model, optimizer);
            log.WriteLine($"Resuming from {resume.Path}: {resume.Epoch} of {options.Epochs} epochs done{(resume.Step > 0 ? $" and {resume.Step} of {stepsPerEpoch} steps of epoch {resume.Epoch + 1}" : "")}, Adam step {resume.AdamSteps}.");
        }
        // The last state saved, for the message of a run that stops: the checkpoint it resumed from, then its own.
        var checkpointPath = Path.Combine(options.OutputDirectory, TrainingCheckpoint.FileName);
        var (savedPath, saved) = resume is null ? (null, null) : (resume.Path, $"{resume.Path} ({Position(resume.Epoch, resume.Step)})");
        var unsaved = false;
        var batch = new BatchBuffers(device, options.BatchSize, train.ImageSize);
        var workspace = new Workspace();
        // On a GPU the sets are uploaded once and batches gathered there; each step's loss stays on the device until a
        // log line, the epoch's end or a stop reads the losses since the last one back in one copy (and checks them).
        var deviceTrain = device.IsCpu ? null : new DeviceDataset(device, train.Images, train.Labels, 1, train.ImageSize, train.ImageSize);
        var deviceTest = device.IsCpu ? null : new DeviceDataset(device, test.Images, test.Labels, 1, test.ImageSize, test.ImageSize);
        var deviceLosses = device.IsCpu ? null : Tensor.Zeros(device, stepsPerEpoch);
        // The GPU loop's position lives on the device (StepSchedule), so every full batch's step queues the same launches;
        // with CUDA graphs asked for, the third is captured and each later one replayed with one driver call.
        var schedule = device.IsCpu ? null : new StepSchedule(device, stepsPerEpoch);
        var graphs = options.CudaGraphs && CapturedStep.IsSupported(device);
        CapturedStep? captured = null;
        var eagerFullSteps = 0;
        var hostLosses = new float[stepsPerEpoch];
        int[]? predictions = null;
        try
        {
            _progress.Run(() =>
            {
                for (var epoch = (resume?.Epoch ?? 0) + 1; epoch <= options.Epochs; epoch++)
                {
                    // A run interrupted mid-epoch resumes with the next step, its loss sum and seconds carried over.
                    var partial = resume is { Step: > 0 } && epoch == resume.Epoch + 1 ? resume : null;
                    var firstStep = (partial?.Step ?? 0) + 1;
                    model.Train();
                    batches.StartEpoch(epoch - 1);
                    _progress.EpochStarted(epoch, options.Epochs, stepsPerEpoch, train.Count);
                    var clock = Stopwatch.StartNew();
                    double lossSum = partial?.EpochLossSum ?? 0, earlierSeconds = partial?.EpochSeconds ?? 0;
                    var seen = (firstStep - 1) * options.BatchSize;
                    if (partial is not null) _progress.EpochResumed(firstStep - 1, lossSum, seen);
                    var reported = firstStep - 1; // steps whose loss has been read and counted
                    deviceTrain?.SetOrder(batches.Order);
                    schedule?.StartEpoch(firstStep - 1, optimizer);
                    for (var step = firstStep; step <= stepsPerEpoch; step++)
                    {
                        if (stop.IsCancellationRequested)
                        {
                            ReadLosses(epoch, step - 1);
                            Interrupt(epoch, step - 1, lossSum, earlierSeconds + clock.Elapsed.TotalSeconds);
                        }
                        if (deviceTrain is null)
                        {
                            var (input, labels) = batch.Load(batches, step - 1);
                            var value = TrainStep(model, optimizer, workspace, input, labels);
                            if (!float.IsFinite(value)) throw Diverged(value, epoch, step);
                            unsaved = true;
                            reported = step;
                            lossSum += value;
                            seen += labels.Length;
                            _progress.StepEnded(step, value, seen);
                        }
                        else
                        {
                            var length = batches.BatchLength(step - 1);
                            if (captured is not null && length == options.BatchSize)
                            {
                                captured.Replay();
                                schedule!.CountReplayedStep();
                            }
                            else if (graphs && length == options.BatchSize && eagerFullSteps >= 2)
                            {
                                captured = CaptureStep(device, () => DeviceTrainStep(model, optimizer, workspace, deviceTrain, schedule!, options.BatchSize, options.BatchSize, deviceLosses!));
                                captured.Replay();
                                log.WriteLine($"CUDA graphs: step {step} of epoch {epoch} was captured; every later step of {options.BatchSize} images replays it.");
                            }
                            else
                            {
                                DeviceTrainStep(model, optimizer, workspace, deviceTrain, schedule!, options.BatchSize, length, deviceLosses!);
                                if (length == options.BatchSize) eagerFullSteps++;
                            }
                            unsaved = true;
                            if (step % options.LogEvery == 0 || step == stepsPerEpoch) ReadLosses(epoch, step);
                        }
                    }
                    var seconds = earlierSeconds + clock.Elapsed.TotalSeconds;
                    predictions = deviceTest is null ? Evaluation.Predict(model, test) : Evaluation.Predict(model, deviceTest);
                    var accuracy = new Evaluation(test.Labels, predictions, data.ClassNames).Accuracy;

                    // GPU: reads the losses of the steps up to `step` not yet counted (one copy, which waits for the device).
                    void ReadLosses(int epochNumber, int step)
                    {
                        if (deviceLosses is null || reported >= step) return;
                        deviceLosses.CopyTo(hostLosses);
                        for (; reported < step; reported++)
                        {
                            var value = hostLosses[reported];
                            if (!float.IsFinite(value)) throw Diverged(value, epochNumber, reported + 1);
                            lossSum += value;
                            seen += batches.BatchLength(reported);
                            _progress.StepEnded(reported + 1, value, seen);
                        }
                    }
                    var entry = new EpochMetrics(epoch, seconds, train.Count / seconds, lossSum / stepsPerEpoch, accuracy);
                    metrics.Epochs.Add(entry);
                    metrics.TrainingSeconds += seconds;
                    metrics.FinalTestAccuracy = accuracy;
                    metrics.TotalSeconds = previousSeconds + total.Elapsed.TotalSeconds;
                    TrainingCheckpoint.Save(options.OutputDirectory, options, model, optimizer, epoch, metrics, data.ClassNames);
                    (savedPath, saved, unsaved) = (checkpointPath, $"{checkpointPath} ({Position(epoch, 0)})", false);
                    _progress.EpochEnded(entry, $"Epoch [{epoch}/{options.Epochs}] took {Invariant(seconds, "F2")} s ({Invariant(entry.ImagesPerSecond, "N0")} images/s), " +
                                                $"mean loss {Invariant(entry.MeanLoss, "F4")}, test accuracy {Invariant(accuracy, "F2")} %");
                }
            });
        }
        finally
        {
            captured?.Dispose(); // the graph lives in driver memory: released at once, not at exit
        }

        TrainingDivergedException Diverged(float value, int epoch, int step) =>
            new($"Training diverged: the loss became {value} at epoch {epoch}, step {step}, so the run stopped, " +
                (saved is null ? "having saved nothing" : $"keeping the last checkpoint {saved}") + "; try a smaller --lr.");

        // Saves the state after `stepsDone` steps of `epoch` (unless the last checkpoint holds it) and ends the run.
        void Interrupt(int epoch, int stepsDone, double lossSum, double seconds)
        {
            if (unsaved)
            {
                metrics.TotalSeconds = previousSeconds + total.Elapsed.TotalSeconds;
                TrainingCheckpoint.Save(options.OutputDirectory, options, model, optimizer, epoch - 1, metrics, data.ClassNames, stepsDone, lossSum, seconds);
                (savedPath, saved) = (checkpointPath, $"{checkpointPath} ({Position(epoch - 1, stepsDone)})");
            }
            throw new TrainingInterruptedException($"Stopped as asked at epoch {epoch}, step {stepsDone} of {stepsPerEpoch}: " + (saved is null
                ? "no step was completed, so nothing is saved; run it again to train."
                : $"{(unsaved ? "saved" : "nothing new since")} the checkpoint {saved}; continue with --resume {Path.GetDirectoryName(savedPath)}."));
        }

        var evaluation = new Evaluation(test.Labels, predictions
            ?? (deviceTest is null ? Evaluation.Predict(model, test) : Evaluation.Predict(model, deviceTest)), data.ClassNames);
        metrics.FinalTestAccuracy = evaluation.Accuracy;
        log.WriteLine($"Accuracy of the network on the {test.Count} test images: {Invariant(metrics.FinalTestAccuracy)} %");

        Directory.CreateDirectory(options.OutputDirectory);
        var modelPath = Path.Combine(options.OutputDirectory, "model.safetensors");
        SafeTensors.Save(modelPath, model.StateDict(), new Dictionary<string, string>
        {
            ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = options.Model, ["classes"] = "10",
            ["class_names"] = JsonSerializer.Serialize(data.ClassNames),
            ["input"] = $"[N, 1, {train.ImageSize}, {train.ImageSize}]",
            ["normalization"] = $"train mean {Invariant(MnistPreprocessing.TrainMean)} std {Invariant(MnistPreprocessing.TrainStd)}",
        });
        var pictures = options.Pictures ? TrainingPictures.Draw(options.OutputDirectory, metrics, evaluation, test) : [];
        metrics.TotalSeconds = previousSeconds + total.Elapsed.TotalSeconds;
        var metricsPath = options.MetricsFile ?? Path.Combine(options.OutputDirectory, "metrics.json");
        AtomicFile.WriteAllText(metricsPath, JsonSerializer.Serialize(metrics, JsonOptions));
        log.WriteLine($"Trained in {Invariant(metrics.TrainingSeconds, "F1")} s; model saved to {modelPath}, metrics to {metricsPath}" +
                      (pictures.Count > 0 ? $", pictures and checkpoint to {options.OutputDirectory}." : "."));
        return metrics;
    }

    /// <summary>
    /// One training step on a batch: forward, loss, zero the gradients, backward, optimiser step; returns the loss. The
    /// workspace makes every step after the first reuse the previous one's tensors, so that a step allocates nothing.
    /// </summary>
    private static float TrainStep(Module model, Optimizer optimizer, Workspace workspace, Tensor input, int[] labels)
    {
        using var scope = workspace.Begin();
        var loss = F.CrossEntropy(model.Forward(input), labels);
        optimizer.ZeroGrad();
        loss.Backward();
        optimizer.Step();
        return loss.Item();
    }

    /// <summary>
    /// The same step on a GPU device, queued without waiting: the batch of <paramref name="count"/> is gathered at the
    /// schedule's step, and the loss stored at losses[step] on the device, to be read back with the others at the next
    /// log line. Its launches are the same at every step of one batch size (what a captured step replays).
    /// </summary>
    private static void DeviceTrainStep(Module model, Optimizer optimizer, Workspace workspace, DeviceDataset data, StepSchedule schedule,
        int batchSize, int count, Tensor losses)
    {
        using var scope = workspace.Begin();
        var (input, labels) = data.Batch(schedule, batchSize, count);
        var loss = model.CrossEntropyLoss(input, labels); // the head fused with the loss where the model and device can
        // The optimiser clears the gradients as it steps (Optimizer.ClearsGradients, set with the run's first step).
        if (!optimizer.ClearsGradients)
        {
            optimizer.ZeroGrad();
            optimizer.ClearsGradients = true;
        }
        loss.Backward();
        schedule.EndStep(loss, losses, optimizer); // the optimiser's step; with Adam, its launch also stores the loss and advances the cursor
    }

    /// <summary>Captures a step as a CUDA graph, or ends the run with one sentence saying why it could not be.</summary>
    private static CapturedStep CaptureStep(Device device, Action step)
    {
        try
        {
            return CapturedStep.Capture(device, step);
        }
        catch (Kernels.Cuda.CudaGraphException exception)
        {
            throw new TrainingFailedException($"CUDA graphs: {exception.Message}; the run stopped there, writing nothing since its last " +
                $"checkpoint; run with {TrainOptions.CudaGraphsVariable}=0 to launch the kernels step by step.");
        }
    }

    /// <summary>Where a checkpoint stands, in words: "after epoch 2", or "after step 7 of epoch 3" for an interrupted run.</summary>
    private static string Position(int epochsDone, int step) =>
        step > 0 ? $"after step {step} of epoch {epochsDone + 1}" : epochsDone > 0 ? $"after epoch {epochsDone}" : "before training";

    /// <summary>Accuracy in percent on a dataset, in evaluation mode and without recording gradients.</summary>
    public static double Evaluate(Module model, MnistDataset dataset, int batchSize = 1000) =>
        new Evaluation(dataset.Labels, Evaluation.Predict(model, dataset, batchSize), ClassNamesFile.Digits).Accuracy;

    /// <summary>The name the first log line gives a variant; the seed's "LeNet-5" for the default.</summary>
    public static string DisplayName(string variant) => variant switch
    {
        LeNet5.ModelName => "LeNet-5",
        LeNet5Table.ModelName => "LeNet-5 (the article's table)",
        LeNet1998.ModelName => "LeNet-5 (1998, tanh)",
        _ => variant,
    };

    private static string Invariant(double value, string? format = null) => value.ToString(format, CultureInfo.InvariantCulture);
}
