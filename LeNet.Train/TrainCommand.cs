using System.CommandLine;
using LeNet.Core;
using System.Globalization;
using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Mnist;
using LeNet.Train.Progress;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>
/// The train command (also the root command's own action): its options, their checks, and the run with its user-facing
/// errors.
/// </summary>
public static class TrainCommand
{
    public const string Description =
        "Trains a LeNet-5 variant on MNIST (the reference article's recipe by default), checkpointing every epoch, " +
        "and writes the model, metrics.json and pictures to the output folder.";

    /// <summary>The train command on its own (<c>LeNet.Train train ...</c>).</summary>
    public static Command Create()
    {
        var command = new Command("train", Description);
        Configure(command);
        return command;
    }

    /// <summary>
    /// Adds the training options and action to <paramref name="command"/> (the train command or the root).
    /// </summary>
    public static void Configure(Command command)
    {
        var defaults = new TrainOptions();
        var epochs = Positive(new Option<int>("--epochs")
        {
            Description = "Number of passes over the training set.",
            DefaultValueFactory = _ => defaults.Epochs
        });
        var batchSize = Positive(new Option<int>("--batch-size")
        {
            Description = "Images per training step.",
            DefaultValueFactory = _ => defaults.BatchSize
        });
        var learningRate = new Option<float>("--lr")
        {
            Description = "Adam learning rate.", DefaultValueFactory = _ => defaults.LearningRate,
            CustomParser = r =>
            {
                var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
                    && float.IsFinite(value))
                    return value;
                r.AddError($"--lr must be a positive number, not '{text}'.");
                return 0;
            },
        };
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the initial weights and of the shuffling.",
            DefaultValueFactory = _ => defaults.Seed
        };
        var model = new Option<string>("--model")
        {
            Description = "Model variant: " +
                string.Join("; ", ModelVariants.Names.Select(n => $"{n} ({ModelVariants.Describe(n)})")) + ".",
            DefaultValueFactory = _ => defaults.Model,
        };
        model.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<string>();
            if (!ModelVariants.IsKnown(value))
                r.AddError(
                    $"--model {value} is not a model variant; choose one of {string.Join(", ", ModelVariants.Names)}.");
        });
        var data = new Option<string?>("--data")
        {
            Description =
                "Folder with the four MNIST-format IDX files (gzip or raw; MNIST, Fashion-MNIST, KMNIST, EMNIST " +
                "digits) and an optional classes.txt; " +
                          "missing files are downloaded there as MNIST. Default: $LENET_DATA, else ./data/mnist " +
                          "(where the files must be the canonical MNIST).",
        };
        var device = DeviceOption.Create(
            "Where to train: cpu, cuda (the first NVIDIA GPU, through ILGPU; needs only the driver) or auto (the GPU " +
            "when there is one, else the CPU).", defaults.Device);
        var kernels = new Option<string>("--kernels")
        {
            Description = "CPU kernels: cpu (SIMD, multi-core) or reference (scalar, for checking).",
            DefaultValueFactory = _ => defaults.Kernels
        };
        OneOf(kernels, "a kind of CPU kernels", "cpu", "reference");
        var threads = Positive(new Option<int?>("--threads")
        {
            Description = "Threads for the CPU kernels. Default: $LENET_THREADS, else all cores."
        });
        var limit = Positive(new Option<int?>("--limit")
        {
            Description = "Train on the first N training images only."
        });
        var testLimit = Positive(new Option<int?>("--test-limit")
        {
            Description = "Evaluate on the first N test images only."
        });
        var output = new Option<string>("--output")
        {
            Description =
                "Folder for the model (model.safetensors), the checkpoint, metrics.json and the pictures. Default: " +
                "output, or the --resume folder.",
            DefaultValueFactory = _ => defaults.OutputDirectory,
        };
        var metrics = new Option<string?>("--metrics")
        {
            Description = "Write the metrics JSON here instead of <output>/metrics.json."
        };
        var logEvery = Positive(new Option<int>("--log-every")
        {
            Description = "Print the loss every N steps (when the output is not an interactive console).",
            DefaultValueFactory = _ => defaults.LogEvery
        });
        var resume = new Option<string?>("--resume")
        {
            Description =
                "Continue the run whose checkpoint is in this folder (or file): same model, seed, batch, lr and " +
                "limits unless given; --epochs may be raised to train longer. Ends with the weights the " +
                "uninterrupted run would have.",
        };
        var noPictures = new Option<bool>("--no-pictures")
        {
            Description = "Do not draw the loss, accuracy, confusion-matrix and misclassified-digit pictures."
        };
        // On a GPU each full step is replayed as a CUDA graph; off launches its kernels one by one (docs/gpu.md).
        var cudaGraphs = new Option<string>("--cuda-graphs") { Hidden = true, DefaultValueFactory = _ => "on" };
        OneOf(cudaGraphs, "on or off", "on", "off");

        foreach (var option in new Option[] { epochs, batchSize, learningRate, seed, model, data, device, kernels,
            threads, limit, testLimit, output, metrics, logEvery, resume, noPictures, cudaGraphs })
            command.Add(option);
        command.SetAction(parse =>
        {
            var options = new TrainOptions
            {
                Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                Seed = parse.GetValue(seed), Model = parse.GetValue(model)!, DataDirectory = parse.GetValue(data),
                Device = parse.GetValue(device)!,
                Kernels = parse.GetValue(kernels)!, Threads = parse.GetValue(threads),
                Limit = parse.GetValue(limit), TestLimit = parse.GetValue(testLimit),
                OutputDirectory = parse.GetValue(output)!,
                MetricsFile = parse.GetValue(metrics), LogEvery = parse.GetValue(logEvery),
                Resume = parse.GetValue(resume),
                Pictures = !parse.GetValue(noPictures), CudaGraphs = parse.GetValue(cudaGraphs) == "on",
            };
            var given = new HashSet<string>(
                new Option[] { epochs, batchSize, learningRate, seed, model, data, limit, testLimit, output }
                .Where(o => IsExplicit(parse, o)).Select(o => o.Name));
            var progress = TrainingProgress.For(Console.Out, options.LogEvery, console: true);
            using var signals = new StopSignals();
            var code = Run(options, Console.Out, Console.Error, signals.Token, progress, given);
            return code == StopSignals.SigintExitCode ? signals.ExitCode : code;
        });
    }

    /// <summary>
    /// Runs training; user errors end in one sentence on stderr and exit code 1. With
    /// <see cref="TrainOptions.Resume"/>, the options not in <paramref name="given"/> (the names of the options typed
    /// on the command line; null: all) are taken from the checkpoint's run, and those given must agree with it.
    /// </summary>
    public static int Run(TrainOptions options, TextWriter log, TextWriter error, TrainingProgress? progress = null,
        IReadOnlySet<string>? given = null) =>
        Run(options, log, error, CancellationToken.None, progress, given);

    /// <summary>
    /// As the other overload; besides, when <paramref name="stop"/> is cancelled (the command line cancels it on SIGINT
    /// or SIGTERM), the run saves its last completed step, says so on stderr and returns
    /// <see cref="StopSignals.SigintExitCode"/>.
    /// </summary>
    public static int Run(TrainOptions options, TextWriter log, TextWriter error, CancellationToken stop,
        TrainingProgress? progress = null, IReadOnlySet<string>? given = null)
    {
        OutputFolder? output = null;
        try
        {
            TrainingCheckpoint? checkpoint = null;
            if (options.Resume is { } resume)
            {
                checkpoint = TrainingCheckpoint.Load(resume);
                options = WithRecipe(options, checkpoint, given);
                if (checkpoint.Disagreement(options) is { } disagreement) throw new OptionException(disagreement);
            }
            if (options.Problem() is { } problem) throw new OptionException(problem);
            var device = ChooseDevice(options, log);
            output = OutputFolder.Claim(options.OutputDirectory);
            if (options.MetricsFile is { } metricsFile)
                OutputFolder.CheckWritable(Path.GetDirectoryName(Path.GetFullPath(metricsFile))!, "--metrics");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // The rule of MnistData.Load: the default folders must hold the canonical MNIST (checksums verified); a
            // folder named with --data may hold any dataset in MNIST format (format checked, checksums not).
            var verified = options.DataDirectory is null;
            var mnist = MnistData.Load(options.DataDirectory,
                acquirer: new MnistAcquirer(log: message => log.WriteLine(message)), verifyChecksums: verified);
            log.WriteLine(
                $"MNIST from {mnist.Directory}: loaded, {(verified ? "verified" : "checked")} and preprocessed in " +
                $"{clock.Elapsed.TotalSeconds:F1} s.");
            if (options.Limit > mnist.Train.Count)
                throw new OptionException($"--limit {options.Limit} exceeds the {mnist.Train.Count} training images.");
            if (options.TestLimit > mnist.Test.Count)
                throw new OptionException(
                    $"--test-limit {options.TestLimit} exceeds the {mnist.Test.Count} test images.");
            var trainCount = options.Limit ?? mnist.Train.Count;
            if (options.BatchSize > trainCount)
                throw new OptionException(
                    $"--batch-size {options.BatchSize} exceeds the {trainCount} training images.");
            new Trainer(options, log, progress).Run(mnist, checkpoint, device, stop);
            return 0;
        }
        catch (TrainingInterruptedException e)
        {
            error.WriteLine(e.Message);
            return StopSignals.SigintExitCode;
        }
        catch (Exception e) when (e is OptionException or MnistDataException or TrainingDivergedException
            or TrainingFailedException or CheckpointException or FileWriteException)
        {
            error.WriteLine(e.Message);
            return 1;
        }
        finally
        {
            output?.Dispose();
        }
    }

    /// <summary>
    /// The device --device names: cpu (with --kernels), cuda (or one sentence saying why there is none), or auto (the
    /// GPU when one opens, else the CPU, saying which and why).
    /// </summary>
    private static Device ChooseDevice(TrainOptions options, TextWriter log) =>
        DeviceOption.Open(options.Device, options.Kernels == "reference" ? Device.CpuReference : Device.Cpu, "training",
            log);

    /// <summary>
    /// The options of a resumed run: the checkpoint's recipe for each recipe option not given, the output folder the
    /// checkpoint's.
    /// </summary>
    private static TrainOptions WithRecipe(TrainOptions options, TrainingCheckpoint checkpoint,
        IReadOnlySet<string>? given)
    {
        if (given is null) return options;
        var recipe = checkpoint.Recipe;
        bool Given(string name) => given.Contains(name);
        return options with
        {
            Model = Given("--model") ? options.Model : recipe.Model,
            Seed = Given("--seed") ? options.Seed : recipe.Seed,
            BatchSize = Given("--batch-size") ? options.BatchSize : recipe.BatchSize,
            LearningRate = Given("--lr") ? options.LearningRate : recipe.LearningRate,
            Limit = Given("--limit") ? options.Limit : recipe.Limit,
            TestLimit = Given("--test-limit") ? options.TestLimit : recipe.TestLimit,
            Epochs = Given("--epochs") ? options.Epochs : recipe.Epochs,
            DataDirectory = Given("--data") ? options.DataDirectory : recipe.DataDirectory,
            OutputDirectory = Given("--output") ? options.OutputDirectory
                : Path.GetDirectoryName(Path.GetFullPath(checkpoint.Path))!,
        };
    }
}
