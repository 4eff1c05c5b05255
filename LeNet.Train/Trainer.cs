using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Serialization;
using Workers = LeNet.Kernels.Cpu.Workers;
using LeNet.Mnist;

namespace LeNet.Train;

/// <summary>
/// The article's training run: LeNet-5, Adam, cross-entropy, shuffled mini-batches, a loss line every 400 steps,
/// test accuracy after every epoch and at the end; then the model and the metrics are saved.
/// </summary>
public sealed class Trainer(TrainOptions options, TextWriter log)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public TrainingMetrics Run(MnistData data)
    {
        var total = Stopwatch.StartNew();
        var train = options.Limit is { } limit ? data.Train.Take(limit) : data.Train;
        var test = options.TestLimit is { } testLimit ? data.Test.Take(testLimit) : data.Test;
        if (options.Threads is { } threads) Workers.SetThreadCount(threads);
        var device = options.Kernels == "reference" ? Device.CpuReference : Device.Cpu;
        var model = new LeNet5(classes: 10, seed: options.Seed);
        model.To(device);
        var optimizer = new Adam(model.Parameters(), options.LearningRate);
        log.WriteLine($"LeNet-5: {model.ParameterCount():N0} trainable parameters; device {options.Device} ({options.Kernels} kernels, {Workers.ThreadCount} threads); " +
                      $"{train.Count:N0} training and {test.Count:N0} test images; batch {options.BatchSize}, Adam lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, seed {options.Seed}.");

        var metrics = new TrainingMetrics
        {
            Model = LeNet5.ModelName, Device = options.Device, Seed = options.Seed, BatchSize = options.BatchSize,
            LearningRate = options.LearningRate, TrainImages = train.Count, TestImages = test.Count,
        };
        var batches = new MnistBatcher(train, options.BatchSize, shuffle: true, seed: options.Seed);
        var stepsPerEpoch = batches.BatchCount;
        var batch = new BatchBuffers(device, options.BatchSize, train.ImageSize);
        var workspace = new Workspace();
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            model.Train();
            batches.StartEpoch(epoch - 1);
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            for (var step = 1; step <= stepsPerEpoch; step++)
            {
                var (input, labels) = batch.Load(batches, step - 1);
                var value = TrainStep(model, optimizer, workspace, input, labels);
                if (!float.IsFinite(value))
                    throw new TrainingDivergedException($"Training diverged: the loss became {value} at epoch {epoch}, step {step}. Try a smaller --lr.");
                lossSum += value;
                if (step % options.LogEvery == 0)
                    log.WriteLine($"Epoch [{epoch}/{options.Epochs}], Step [{step}/{stepsPerEpoch}], Loss: {Invariant(value, "F4")}");
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var accuracy = Evaluate(model, test);
            var entry = new EpochMetrics(epoch, seconds, train.Count / seconds, lossSum / stepsPerEpoch, accuracy);
            metrics.Epochs.Add(entry);
            metrics.TrainingSeconds += seconds;
            log.WriteLine($"Epoch [{epoch}/{options.Epochs}] took {Invariant(seconds, "F2")} s ({Invariant(entry.ImagesPerSecond, "N0")} images/s), " +
                          $"mean loss {Invariant(entry.MeanLoss, "F4")}, test accuracy {Invariant(accuracy, "F2")} %");
        }

        metrics.FinalTestAccuracy = metrics.Epochs.Count > 0 ? metrics.Epochs[^1].TestAccuracy : Evaluate(model, test);
        log.WriteLine($"Accuracy of the network on the {test.Count} test images: {Invariant(metrics.FinalTestAccuracy)} %");

        Directory.CreateDirectory(options.OutputDirectory);
        var modelPath = Path.Combine(options.OutputDirectory, "model.safetensors");
        SafeTensors.Save(modelPath, model.StateDict(), new Dictionary<string, string>
        {
            ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = LeNet5.ModelName, ["classes"] = "10",
            ["input"] = $"[N, 1, {train.ImageSize}, {train.ImageSize}]",
            ["normalization"] = $"train mean {Invariant(MnistPreprocessing.TrainMean)} std {Invariant(MnistPreprocessing.TrainStd)}",
        });
        metrics.TotalSeconds = total.Elapsed.TotalSeconds;
        var metricsPath = options.MetricsFile ?? Path.Combine(options.OutputDirectory, "metrics.json");
        AtomicFile.WriteAllText(metricsPath, JsonSerializer.Serialize(metrics, JsonOptions));
        log.WriteLine($"Trained in {Invariant(metrics.TrainingSeconds, "F1")} s; model saved to {modelPath}, metrics to {metricsPath}.");
        return metrics;
    }

    /// <summary>
    /// One training step: forward, loss, backward, optimiser update; returns the loss. The workspace makes every
    /// step after the first reuse the previous one's tensors, so that it allocates nothing.
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

    /// <summary>Accuracy in percent on a dataset, in evaluation mode and without recording gradients.</summary>
    public static double Evaluate(Module model, MnistDataset dataset, int batchSize = 1000)
    {
        var wasTraining = model.Training;
        model.Eval();
        var correct = 0;
        using (GradientTape.NoGrad())
        {
            var batches = new MnistBatcher(dataset, Math.Min(batchSize, dataset.Count), shuffle: false);
            batches.StartEpoch(0);
            var device = model.Parameters().First().Device;
            var batch = new BatchBuffers(device, batches.BatchSize, dataset.ImageSize);
            var workspace = new Workspace();
            for (var b = 0; b < batches.BatchCount; b++)
            {
                var (input, labels) = batch.Load(batches, b);
                var count = labels.Length;
                using var scope = workspace.Begin();
                var logits = model.Forward(input).AsSpan();
                var classes = logits.Length / count;
                for (var n = 0; n < count; n++)
                {
                    var row = logits.Slice(n * classes, classes);
                    var predicted = 0;
                    for (var c = 1; c < classes; c++) if (row[c] > row[predicted]) predicted = c;
                    if (predicted == labels[n]) correct++;
                }
            }
        }
        model.Train(wasTraining);
        return 100.0 * correct / dataset.Count;
    }

    private static string Invariant(double value, string? format = null) => value.ToString(format, CultureInfo.InvariantCulture);
}
