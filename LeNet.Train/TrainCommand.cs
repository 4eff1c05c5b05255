using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using LeNet.Mnist;

namespace LeNet.Train;

/// <summary>The command line: options, their checks, and the run with its user-facing errors.</summary>
public static class TrainCommand
{
    public static RootCommand Create()
    {
        var defaults = new TrainOptions();
        var epochs = Positive(new Option<int>("--epochs") { Description = "Number of passes over the training set.", DefaultValueFactory = _ => defaults.Epochs });
        var batchSize = Positive(new Option<int>("--batch-size") { Description = "Images per training step.", DefaultValueFactory = _ => defaults.BatchSize });
        var learningRate = new Option<float>("--lr")
        {
            Description = "Adam learning rate.", DefaultValueFactory = _ => defaults.LearningRate,
            CustomParser = r =>
            {
                var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0 && float.IsFinite(value))
                    return value;
                r.AddError($"--lr must be a positive number, not '{text}'.");
                return 0;
            },
        };
        var seed = new Option<int>("--seed") { Description = "Seed of the initial weights and of the shuffling.", DefaultValueFactory = _ => defaults.Seed };
        var data = new Option<string?>("--data") { Description = "Folder with the four MNIST files (gzip or raw); missing files are downloaded there. Default: $LENET_DATA, else ./data/mnist." };
        var device = new Option<string>("--device") { Description = "Where to train: cpu.", DefaultValueFactory = _ => defaults.Device };
        device.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<string>();
            if (value != "cpu") r.AddError($"--device {value} is not available: this build trains on the CPU only; use --device cpu.");
        });
        var kernels = new Option<string>("--kernels") { Description = "CPU kernels: cpu (SIMD, multi-core) or reference (scalar, for checking).", DefaultValueFactory = _ => defaults.Kernels };
        kernels.AcceptOnlyFromAmong("cpu", "reference");
        var threads = Positive(new Option<int?>("--threads") { Description = "Threads for the CPU kernels. Default: $LENET_THREADS, else all cores." });
        var limit = Positive(new Option<int?>("--limit") { Description = "Train on the first N training images only." });
        var testLimit = Positive(new Option<int?>("--test-limit") { Description = "Evaluate on the first N test images only." });
        var output = new Option<string>("--output") { Description = "Folder for the trained model (model.safetensors) and metrics.json.", DefaultValueFactory = _ => defaults.OutputDirectory };
        var metrics = new Option<string?>("--metrics") { Description = "Write the metrics JSON here instead of <output>/metrics.json." };
        var logEvery = Positive(new Option<int>("--log-every") { Description = "Print the loss every N steps.", DefaultValueFactory = _ => defaults.LogEvery });

        var root = new RootCommand("Trains LeNet-5 on MNIST (the reference article's recipe by default) and reports test accuracy.")
        {
            epochs, batchSize, learningRate, seed, data, device, kernels, threads, limit, testLimit, output, metrics, logEvery,
        };
        root.SetAction(parse =>
        {
            var options = new TrainOptions
            {
                Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batchSize), LearningRate = parse.GetValue(learningRate),
                Seed = parse.GetValue(seed), DataDirectory = parse.GetValue(data), Device = parse.GetValue(device)!,
                Kernels = parse.GetValue(kernels)!, Threads = parse.GetValue(threads),
                Limit = parse.GetValue(limit), TestLimit = parse.GetValue(testLimit), OutputDirectory = parse.GetValue(output)!,
                MetricsFile = parse.GetValue(metrics), LogEvery = parse.GetValue(logEvery),
            };
            return Run(options, Console.Out, Console.Error);
        });
        return root;
    }

    /// <summary>Runs training; user errors end in one sentence on stderr and exit code 1.</summary>
    public static int Run(TrainOptions options, TextWriter log, TextWriter error)
    {
        try
        {
            CheckWritable(options.OutputDirectory, "--output");
            if (options.MetricsFile is { } metricsFile)
                CheckWritable(Path.GetDirectoryName(Path.GetFullPath(metricsFile))!, "--metrics");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var mnist = MnistData.Load(options.DataDirectory, acquirer: new MnistAcquirer(log: message => log.WriteLine(message)));
            log.WriteLine($"MNIST from {mnist.Directory}: loaded, verified and preprocessed in {clock.Elapsed.TotalSeconds:F1} s.");
            if (options.Limit > mnist.Train.Count)
                throw new OptionException($"--limit {options.Limit} exceeds the {mnist.Train.Count} training images.");
            if (options.TestLimit > mnist.Test.Count)
                throw new OptionException($"--test-limit {options.TestLimit} exceeds the {mnist.Test.Count} test images.");
            var trainCount = options.Limit ?? mnist.Train.Count;
            if (options.BatchSize > trainCount)
                throw new OptionException($"--batch-size {options.BatchSize} exceeds the {trainCount} training images.");
            new Trainer(options, log).Run(mnist);
            return 0;
        }
        catch (Exception e) when (e is OptionException or MnistDataException or TrainingDivergedException)
        {
            error.WriteLine(e.Message);
            return 1;
        }
    }

    private static void CheckWritable(string folder, string option)
    {
        try
        {
            Directory.CreateDirectory(folder);
            var probe = Path.Combine(folder, $".write-test-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new OptionException($"Cannot write to the folder {folder} given by {option} ({e.Message}); choose a writable folder.");
        }
    }

    /// <summary>Makes an integer option accept only whole numbers of at least 1, with a sentence naming it otherwise.</summary>
    private static Option<T> Positive<T>(Option<T> option)
    {
        option.CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 1)
                return (T)(object)value;
            r.AddError($"{option.Name} must be a whole number of at least 1, not '{text}'.");
            return default!;
        };
        return option;
    }
}
