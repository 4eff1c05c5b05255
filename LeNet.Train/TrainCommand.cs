using LeNet.Core.Models;
using LeNet.Train.Progress;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>The train command (also the root's own action): its options, and the run with its user errors.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var command = new Command("train",
            "Trains a LeNet-5 variant on MNIST (the reference article's recipe by default), checkpointing every " +
            "epoch, and writes the model, metrics.json and pictures to the output folder.");
        Configure(command);
        return command;
    }

    /// <summary>Adds the training options and action to the train command or the root.</summary>
    public static void Configure(Command command)
    {
        var defaults = new TrainOptions();
        var epochs = Positive(Described("--epochs", "Number of passes over the training set.", defaults.Epochs));
        var batchSize = Positive(Described("--batch-size", "Images per training step.", defaults.BatchSize));
        var learningRate = Parsed(Described("--lr", "Adam learning rate.", defaults.LearningRate), "a positive number",
            text => float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
                && float.IsFinite(value) ? value : null);
        var seed = Described("--seed", "Seed of the initial weights and of the shuffling.", defaults.Seed);
        var model = Allowing(Described("--model", "Model variant: " + string.Join("; ",
                ModelVariants.Names.Select(n => $"{n} ({ModelVariants.Describe(n)})")) + ".", defaults.Model),
            "a model variant", ModelVariants.Names);
        var data = Described<string?>("--data",
            "Folder with the four MNIST-format IDX files (gzip or raw; MNIST, Fashion-MNIST, KMNIST, EMNIST digits) " +
            "and an optional classes.txt; missing files are downloaded there as MNIST. Default: $LENET_DATA, else " +
            "./data/mnist (where the files must be the canonical MNIST).");
        var device = DeviceOption.Create(
            "Where to train: cpu, cuda (the first NVIDIA GPU, through ILGPU; needs only the driver) or auto (the GPU " +
            "when there is one, else the CPU).", defaults.Device);
        var kernels = OneOf(Described("--kernels",
                "CPU kernels: cpu (SIMD, multi-core) or reference (scalar, for checking).", defaults.Kernels),
            "a kind of CPU kernels", "cpu", "reference");
        var threads = Positive(Described<int?>("--threads",
            "Threads for the CPU kernels. Default: $LENET_THREADS, else all cores."));
        var limit = Positive(Described<int?>("--limit", "Train on the first N training images only."));
        var testLimit = Positive(Described<int?>("--test-limit", "Evaluate on the first N test images only."));
        var output = NamingAPath(Described("--output",
            "Folder for the model (model.safetensors), the checkpoint, metrics.json and the pictures. Default: " +
            "output, or the --resume folder.", defaults.OutputDirectory), "folder");
        var metrics = NamingAPath(
            Described<string?>("--metrics", "Write the metrics JSON here instead of <output>/metrics.json."), "file");
        var logEvery = Positive(Described("--log-every",
            "Print the loss every N steps (when the output is not an interactive console).", defaults.LogEvery));
        var resume = Described<string?>("--resume",
            "Continue the run whose checkpoint is in this folder (or file): same model, seed, batch, lr and limits " +
            "unless given; --epochs may be raised to train longer. Ends with the weights the uninterrupted run " +
            "would have.");
        var noPictures = Described<bool>("--no-pictures",
            "Do not draw the loss, accuracy, confusion-matrix and misclassified-digit pictures.");
        // On a GPU each full step is replayed as a CUDA graph; off launches its kernels one by one (docs/gpu.md).
        var cudaGraphs = OneOf(new Option<string>("--cuda-graphs") { Hidden = true, DefaultValueFactory = _ => "on" },
            "on or off", "on", "off");

        foreach (var option in new Option[] { epochs, batchSize, learningRate, seed, model, data, device, kernels,
            threads, limit, testLimit, output, metrics, logEvery, resume, noPictures, cudaGraphs })
            command.Add(option);
        command.SetAction(parse =>
        {
            var options = new TrainOptions
            {
                Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate), Seed = parse.GetValue(seed),
                Model = parse.GetValue(model)!, DataDirectory = parse.GetValue(data), Device = parse.GetValue(device)!,
                Kernels = parse.GetValue(kernels)!, Threads = parse.GetValue(threads), Limit = parse.GetValue(limit),
                TestLimit = parse.GetValue(testLimit), OutputDirectory = parse.GetValue(output)!,
                MetricsFile = parse.GetValue(metrics), LogEvery = parse.GetValue(logEvery),
                Resume = parse.GetValue(resume), Pictures = !parse.GetValue(noPictures),
                CudaGraphs = parse.GetValue(cudaGraphs) == "on",
            };
            var given = new HashSet<string>(
                new Option[] { epochs, batchSize, learningRate, seed, model, data, limit, testLimit, output }
                .Where(o => IsExplicit(parse, o)).Select(o => o.Name));
            var progress = TrainingProgress.For(Console.Out, options.LogEvery);
            using var signals = new StopSignals();
            var code = Run(options, Console.Out, Console.Error, signals.Token, progress, given);
            return code == StopSignals.SigintExitCode ? signals.ExitCode : code;
        });
    }

    /// <summary>
    /// Runs training; user errors end in one sentence on stderr and exit code 1. On a resume, the options not in
    /// <paramref name="given"/> (the names of the options typed; null: all) are taken from the checkpoint's run, and
    /// those given must agree with it. When <paramref name="stop"/> is cancelled (on SIGINT or SIGTERM), the run saves
    /// its last completed step, says so on stderr and returns <see cref="StopSignals.SigintExitCode"/>.
    /// </summary>
    public static int Run(TrainOptions options, TextWriter log, TextWriter error, TrainingProgress? progress = null,
        IReadOnlySet<string>? given = null) => Run(options, log, error, CancellationToken.None, progress, given);

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
                // The run's own data folder, gone: never re-created and filled with a download it may not have used.
                if (options.DataDirectory is { } recorded && recorded == checkpoint.Recipe.DataDirectory
                    && !Directory.Exists(recorded))
                    throw new OptionException(
                        $"The checkpoint {checkpoint.Path} was trained on the data in {recorded}, which no longer " +
                        "exists; pass --data with a folder holding the same files.");
                if (checkpoint.Disagreement(options) is { } disagreement) throw new OptionException(disagreement);
            }
            if (options.Problem() is { } problem) throw new OptionException(problem);
            var device = DeviceOption.Open(options.Device,
                options.Kernels == "reference" ? Device.CpuReference : Device.Cpu, "training", log);
            output = OutputFolder.Claim(options.OutputDirectory);
            // Files that would be refused at the end (a link, a folder in the way) are refused before any work.
            foreach (var name in new[] { "model.safetensors", TrainingCheckpoint.FileName })
                OutputFolder.CheckFile(Path.Combine(output.Path, name), "--output");
            if (options.MetricsFile is { } metricsFile) OutputFolder.CheckFile(metricsFile, "--metrics");
            else OutputFolder.CheckFile(Path.Combine(output.Path, "metrics.json"), "--output");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // The default folders must hold the canonical MNIST (checksums verified); a folder named with --data may
            // hold any dataset in MNIST format (format checked, checksums not).
            var verified = options.DataDirectory is null;
            var mnist = MnistData.Load(options.DataDirectory,
                acquirer: new MnistAcquirer(log: message => log.WriteLine(message)), verifyChecksums: verified);
            log.WriteLine(
                $"MNIST from {mnist.Directory}: loaded, {(verified ? "verified" : "checked")} and preprocessed in " +
                $"{clock.Elapsed.TotalSeconds:F1} s.");
            if (checkpoint?.DataIdentity is { } theirs && mnist.Identity is { } ours && theirs != ours)
                throw new OptionException(
                    $"The checkpoint {checkpoint.Path} was written by a run on other data than the files in " +
                    $"{mnist.Directory} (their SHA-256 differ); resume with the --data of that run, or train afresh " +
                    "without --resume.");
            OptionException.ThrowIfAbove("--limit", options.Limit, mnist.Train.Count, "training");
            OptionException.ThrowIfAbove("--test-limit", options.TestLimit, mnist.Test.Count, "test");
            OptionException.ThrowIfAbove("--batch-size", options.BatchSize, options.Limit ?? mnist.Train.Count,
                "training");
            new Trainer(options, log, progress).Run(mnist, checkpoint, device, stop);
            return 0;
        }
        catch (Exception e) when (e is TrainingInterruptedException or OptionException or MnistDataException
            or TrainingDivergedException or TrainingFailedException or CheckpointException or FileWriteException)
        {
            error.WriteLine(e.Message);
            return e is TrainingInterruptedException ? StopSignals.SigintExitCode : 1;
        }
        finally
        {
            output?.Dispose();
        }
    }

    /// <summary>A resumed run's options: the checkpoint's recipe for each one not given, and its folder.</summary>
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
