using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Train.Images;
using LeNet.Train.Progress;
using LeNet.Train.Serve;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>The train command (also the root's own action): its options, and the run with its user errors.</summary>
public static class TrainCommand
{
    /// <summary>The option naming the architecture (a model variant of <see cref="ModelVariants"/>).</summary>
    public const string ArchOption = "--arch";

    public static Command Create()
    {
        var command = new Command("train",
            "Trains a LeNet-5 architecture on MNIST (the reference article's recipe by default), checkpointing every " +
            "epoch, and writes the model, metrics.json and pictures to the output folder.");
        Configure(command);
        return command;
    }

    /// <summary>
    /// Adds the training options and action to the train command or the root; on the root they are hidden, so that its
    /// help lists the commands, yet the bare program still trains (the seed run) and takes train's options.
    /// </summary>
    public static void Configure(Command command)
    {
        var defaults = new TrainOptions();
        var epochs = Positive(Placeholder(
            Described("--epochs", "Number of passes over the training set.", defaults.Epochs), "N"));
        var batchSize = Positive(Placeholder(
            Described("--batch-size", "Images per training step.", defaults.BatchSize), "N"));
        var learningRate = Parsed(Placeholder(Described("--lr",
            "The learning rate (onecycle's peak).", defaults.LearningRate), "RATE"),
            "a positive number", text => float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture,
                out var value) && value > 0 && float.IsFinite(value) ? value : null);
        var seed = Placeholder(
            Described("--seed", "Seed of the initial weights and of the shuffling.", defaults.Seed), "N");
        var arch = Allowing(Placeholder(Described(ArchOption, "The architecture to train: " +
            string.Join(", ", ModelVariants.Names) + " (below).", defaults.Model), "ARCH"),
            "an architecture", ModelVariants.Names);
        arch.CompletionSources.Add([.. ModelVariants.Names]);
        // --model once named the architecture here; it now means a trained model file, in every command.
        var oldModel = new Option<string>("--model") { Hidden = true };
        oldModel.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<string>();
            var use = ModelVariants.IsKnown(value) ? value : $"with one of {string.Join(", ", ModelVariants.Names)}";
            r.AddError("--model names a trained model file (for evaluate, predict and export); to choose the " +
                $"architecture to train, use {ArchOption} {use}.");
        });
        var data = Placeholder(Described<string?>("--data",
            "Folder with the four MNIST-format IDX files (gzip or raw; MNIST, Fashion-MNIST, KMNIST, EMNIST digits) " +
            "and an optional classes.txt, missing files downloaded there as MNIST; or an image folder, " +
            "train/<class>/*.png and test/<class>/*.png. Default: ./data/mnist."), "DIR");
        var device = DeviceOption.Create(
            "Where to train: cpu, cuda (the first NVIDIA GPU) or auto (the GPU when there is one, else the CPU).",
            defaults.Device);
        var kernels = OneOf(Described("--kernels",
                "CPU kernels: cpu (SIMD, multi-core) or reference (scalar, for checking).", defaults.Kernels),
            "a kind of CPU kernels", "cpu", "reference");
        var threads = Positive(Placeholder(Described<int?>("--threads",
            "Threads for the CPU kernels (the results are the same for any number). Default: all cores."), "N"));
        var limit = Positive(Placeholder(Described<int?>("--limit", "Train on the first N training images only."),
            "N"));
        var testLimit = Positive(Placeholder(
            Described<int?>("--test-limit", "Evaluate on the first N test images only."), "N"));
        var output = Placeholder(NamingAPath(Described("--output",
            "Folder for the model (model.safetensors), the checkpoint, metrics.json and the pictures; with --resume, " +
            "the resumed folder.", defaults.OutputDirectory), "folder"), "DIR");
        var metrics = Placeholder(NamingAPath(
            Described<string?>("--metrics", "Write the metrics JSON here instead of <DIR>/metrics.json."), "file"),
            "FILE");
        var logEvery = Positive(Placeholder(Described("--log-every",
            "Print the loss every N steps (when the output is not a terminal).", defaults.LogEvery), "N"));
        var resume = Placeholder(Described<string?>("--resume",
            "Continue the run whose checkpoint is in this folder (or file): same architecture, seed, batch, lr and " +
            "limits unless given; --epochs may be raised to train longer. Ends with the weights the uninterrupted " +
            "run would have."), "DIR");
        var noPictures = Described<bool>("--no-pictures",
            "Do not draw the loss, accuracy, confusion-matrix and misclassified-digit pictures.");
        // On a GPU each full step is replayed as a CUDA graph; off launches its kernels one by one (docs/gpu.md).
        var cudaGraphs = OneOf(new Option<string>("--cuda-graphs") { Hidden = true, DefaultValueFactory = _ => "on" },
            "on or off", "on", "off");
        var validation = Positive(Placeholder(Described<int>("--validation",
            "Hold out N training images (the same share of every class, chosen by --seed) and report training and " +
            "validation loss and accuracy every epoch; the test set is then evaluated at the end only."), "N"));
        var testEveryEpoch = Described<bool>("--test-every-epoch",
            "Evaluate the test set after every epoch (the default when nothing is held out, as in the seed run).");
        var optimizer = OneOf(Described("--optimizer", "The optimiser.", defaults.Optimizer), "an optimiser",
            [.. TrainOptions.Optimizers]);
        var momentum = Parsed(Placeholder(Described<float>("--momentum", "SGD's momentum (default 0)."), "M"),
            "a number in [0, 1)", text => Number(text) is { } value && value is >= 0 and < 1 ? value : null);
        var nesterov = Described<bool>("--nesterov", "SGD with Nesterov momentum.");
        var weightDecay = Parsed(Placeholder(Described<float?>("--weight-decay",
            "Weight decay: L2 for adam and sgd, decoupled for adamw. Default: 0.01 for adamw, else 0."), "W"),
            "a number of at least 0", text => Number(text) is { } value && value >= 0 ? (float?)value : null);
        var betas = Parsed(Placeholder(Described("--betas", "Adam's and AdamW's two decay rates, as B1,B2.",
            Invariant($"{defaults.Betas.Beta1},{defaults.Betas.Beta2}")), "B1,B2"),
            "two numbers in [0, 1) as B1,B2", text => Betas(text) is not null ? text : null);
        var schedule = OneOf(Described("--schedule",
            "How the learning rate changes over the run, per step: constant; step (times --gamma every " +
            "--step-epochs epochs); cosine (down to 0); onecycle (up to --lr and down, as PyTorch's OneCycleLR).",
            defaults.Schedule), "a schedule", [.. LearningRateSchedule.Names]);
        var warmup = Positive(Placeholder(Described<int>("--warmup",
            "Raise the rate linearly over the first N steps, then follow the schedule."), "N"));
        var stepEpochs = Positive(Placeholder(Described("--step-epochs",
            "step schedule: epochs between two decays.", defaults.StepEpochs), "N"));
        var gamma = Parsed(Placeholder(Described("--gamma", "step schedule: the factor of each decay.",
            defaults.Gamma), "G"), "a positive number", text => Number(text) is { } value && value > 0 ? value : null);
        var patience = Positive(Placeholder(Described<int?>("--patience",
            "Stop after N epochs without improvement of the validation accuracy (without --validation: of the " +
            "mean training loss)."), "N"));
        var target = Parsed(Placeholder(Described<double?>("--target-accuracy",
            "Stop once the validation accuracy (without --validation: the test accuracy) reaches X percent."), "X"),
            "a percentage above 0 and at most 100",
            text => Number(text) is { } value && value is > 0 and <= 100 ? (double?)value : null);
        var overwrite = Described<bool>("--overwrite",
            "Train afresh into a folder that holds another run's model, replacing it.");
        var recipe = OneOf(Described("--recipe",
            "article: the reference article's run. fast: 99 % in seconds (batch 128, 2 epochs, onecycle to lr " +
            "0.01); options given explicitly still apply.", "article"), "a recipe", "article", "fast");
        var augment = Described<bool>("--augment",
            "Distort every training image at random each epoch (shift ±2 px, rotation ±10°, scale 0.9-1.1), on " +
            "the device that trains.");

        var serve = Parsed(new Option<int?>("--serve")
        {
            Description = "Serve a live page of the run at http://127.0.0.1:PORT (5000 when no port is given): " +
                "loss and accuracy curves, and a canvas predicting with the weights as they train.",
            HelpName = "PORT", Arity = ArgumentArity.ZeroOrOne,
        }, "a port from 0 to 65535", text => text == "" ? ServeCommand.DefaultPort
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
                ? port : null);

        var all = new Option[] { recipe, arch, epochs, batchSize, learningRate, optimizer,
            momentum, nesterov, weightDecay,
            betas, schedule, warmup, stepEpochs, gamma, augment, seed, validation, testEveryEpoch, patience, target,
            data, device, kernels, threads, limit, testLimit, output, overwrite, metrics, logEvery, resume,
            noPictures, serve, cudaGraphs, oldModel };
        foreach (var option in all)
        {
            if (command is RootCommand) option.Hidden = true;
            command.Add(option);
        }
        command.SetAction(parse =>
        {
            var options = new TrainOptions
            {
                Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate), Seed = parse.GetValue(seed),
                Model = parse.GetValue(arch)!, DataDirectory = parse.GetValue(data), Device = parse.GetValue(device)!,
                Kernels = parse.GetValue(kernels)!, Threads = parse.GetValue(threads), Limit = parse.GetValue(limit),
                TestLimit = parse.GetValue(testLimit), OutputDirectory = parse.GetValue(output)!,
                MetricsFile = parse.GetValue(metrics), LogEvery = parse.GetValue(logEvery),
                Resume = parse.GetValue(resume), Pictures = !parse.GetValue(noPictures),
                CudaGraphs = parse.GetValue(cudaGraphs) == "on", Optimizer = parse.GetValue(optimizer)!,
                Momentum = parse.GetValue(momentum), Nesterov = parse.GetValue(nesterov),
                WeightDecay = parse.GetValue(weightDecay), Betas = Betas(parse.GetValue(betas)!)!.Value,
                Schedule = parse.GetValue(schedule)!, Warmup = parse.GetValue(warmup),
                StepEpochs = parse.GetValue(stepEpochs), Gamma = parse.GetValue(gamma),
                Validation = parse.GetValue(validation),
                TestEveryEpoch = parse.GetValue(testEveryEpoch) ? true : null, Patience = parse.GetValue(patience),
                TargetAccuracy = parse.GetValue(target), Overwrite = parse.GetValue(overwrite),
                Augment = parse.GetValue(augment), ServePort = parse.GetValue(serve),
            };
            if (parse.GetValue(recipe) == "fast") options = Fast(options, o => IsExplicit(parse, o), batchSize, epochs,
                schedule, learningRate);
            var given = new HashSet<string>(
                new Option[] { epochs, batchSize, learningRate, seed, arch, data, limit, testLimit, output, optimizer,
                    momentum, nesterov, weightDecay, betas, schedule, warmup, stepEpochs, gamma, validation, augment }
                .Where(o => IsExplicit(parse, o)).Select(o => o.Name));
            // Quiet: only errors, on stderr; the results are the files and the exit code.
            var quiet = Cli.IsQuiet(parse);
            var log = quiet ? TextWriter.Null : Console.Out;
            var progress = TrainingProgress.For(log, options.LogEvery, quiet);
            using var signals = new StopSignals();
            var code = Run(options, log, Console.Error, signals.Token, progress, given);
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
        Task? warmUp = null;
        WebServer? server = null;
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
            foreach (var name in new[] { Trainer.ModelFileName, TrainingCheckpoint.FileName, Trainer.BestModelFileName,
                MetricsCsv.FileName })
                OutputFolder.CheckFile(Path.Combine(output.Path, name), "--output");
            if (options.MetricsFile is { } metricsFile) OutputFolder.CheckFile(metricsFile, "--metrics");
            else OutputFolder.CheckFile(Path.Combine(output.Path, "metrics.json"), "--output");
            if (checkpoint is null) ClaimForNewRun(output.Path, options.Overwrite);
            if (options.ServePort is { } port)
            {
                var live = new LiveTraining(progress ?? new LogLinesProgress(log, options.LogEvery),
                    ServeCommand.DefaultMaxMegapixels);
                progress = live;
                server = WebServer.StartAsync(ServeCommand.DefaultHost, port, () => live.Predictor, () => live.Info,
                    live).GetAwaiter().GetResult();
                log.WriteLine($"Watch it learn at {server.Address}");
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // The default folders must hold the canonical MNIST (checksums verified); a folder named with --data may
            // hold any dataset in MNIST format (format checked, checksums not).
            var verified = options.DataDirectory is null;
            warmUp = Trainer.WarmUp(options, device);
            var mnist = DataFolder.Load(options.DataDirectory, message => log.WriteLine(message), verified);
            if (options.DataDirectory is null || !ImageFolderData.IsImageFolder(options.DataDirectory))
                log.WriteLine(
                    $"MNIST from {mnist.Directory}: loaded, {(verified ? "verified" : "checked")} and preprocessed " +
                    $"in {clock.Elapsed.TotalSeconds:F1} s.");
            if (checkpoint?.DataIdentity is { } theirs && mnist.Identity is { } ours && theirs != ours)
                throw new OptionException(
                    $"The checkpoint {checkpoint.Path} was written by a run on other data than the files in " +
                    $"{mnist.Directory} (their SHA-256 differ); resume with the --data of that run, or train afresh " +
                    "without --resume.");
            OptionException.ThrowIfAbove("--limit", options.Limit, mnist.Train.Count, "training");
            OptionException.ThrowIfAbove("--test-limit", options.TestLimit, mnist.Test.Count, "test");
            var trainCount = options.Limit ?? mnist.Train.Count;
            if (options.Validation >= trainCount)
                throw new OptionException($"--validation {options.Validation} holds out every training image; " +
                    $"the run has {trainCount:N0}, so hold out fewer.");
            OptionException.ThrowIfAbove("--batch-size", options.BatchSize, trainCount - options.Validation,
                "training");
            warmUp.GetAwaiter().GetResult();
            new Trainer(options, log, progress).Run(mnist, checkpoint, device, stop);
            if (server is not null && !stop.IsCancellationRequested)
            {
                log.WriteLine($"The page at {server.Address} stays open with the trained model; Ctrl-C stops it.");
                stop.WaitHandle.WaitOne();
            }
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
            // A run that ended early still waits for its warm-up, which uses the kernels' threads; its own failure, if
            // any, says nothing about the run and is not reported.
            if (warmUp is not null) ((IAsyncResult)warmUp).AsyncWaitHandle.WaitOne();
            output?.Dispose();
            server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// A new run never silently replaces another's model: a folder holding one is refused unless
    /// <paramref name="overwrite"/>, which removes the old run's best model and live log first, so that what the
    /// folder holds afterwards is this run's alone.
    /// </summary>
    private static void ClaimForNewRun(string folder, bool overwrite)
    {
        var theirs = new[] { Trainer.ModelFileName, TrainingCheckpoint.FileName, Trainer.BestModelFileName }
            .FirstOrDefault(name => File.Exists(Path.Combine(folder, name)));
        if (theirs is null) return;
        if (!overwrite)
            throw new OptionException(
                $"The folder {folder} holds another run's model ({theirs}); continue that run with --resume " +
                $"{folder}, replace it with --overwrite, or choose another --output.");
        foreach (var name in new[] { Trainer.BestModelFileName, MetricsCsv.FileName })
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path) && !new FileInfo(path).Attributes.HasFlag(FileAttributes.ReparsePoint))
                File.Delete(path);
        }
    }

    /// <summary>
    /// The fast recipe (<c>--recipe fast</c>): ≥ 99 % mean test accuracy over seeds 0-4 in two epochs
    /// (benchmarks/README.md).
    /// </summary>
    public static TrainOptions FastRecipe(TrainOptions options) =>
        options with { BatchSize = 128, Epochs = 2, Schedule = "onecycle", LearningRate = 0.01f };

    /// <summary>The fast recipe, where each option typed explicitly keeps its value.</summary>
    private static TrainOptions Fast(TrainOptions options, Func<Option, bool> typed, Option batchSize, Option epochs,
        Option schedule, Option learningRate)
    {
        var fast = FastRecipe(options);
        return options with
        {
            BatchSize = typed(batchSize) ? options.BatchSize : fast.BatchSize,
            Epochs = typed(epochs) ? options.Epochs : fast.Epochs,
            Schedule = typed(schedule) ? options.Schedule : fast.Schedule,
            LearningRate = typed(learningRate) ? options.LearningRate : fast.LearningRate,
        };
    }

    private static (float, float)? Betas(string text) => text.Split(',') is [var b1, var b2]
        && Number(b1) is { } one && Number(b2) is { } two && one is >= 0 and < 1 && two is >= 0 and < 1
        ? (one, two) : null;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static float? Number(string text) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && float.IsFinite(value)
            ? value : null;

    /// <summary>A resumed run's options: the checkpoint's recipe for each one not given, and its folder.</summary>
    private static TrainOptions WithRecipe(TrainOptions options, TrainingCheckpoint checkpoint,
        IReadOnlySet<string>? given)
    {
        if (given is null) return options;
        var recipe = checkpoint.Recipe;
        bool Given(string name) => given.Contains(name);
        return options with
        {
            Model = Given(ArchOption) ? options.Model : recipe.Model,
            Seed = Given("--seed") ? options.Seed : recipe.Seed,
            BatchSize = Given("--batch-size") ? options.BatchSize : recipe.BatchSize,
            LearningRate = Given("--lr") ? options.LearningRate : recipe.LearningRate,
            Limit = Given("--limit") ? options.Limit : recipe.Limit,
            TestLimit = Given("--test-limit") ? options.TestLimit : recipe.TestLimit,
            Epochs = Given("--epochs") ? options.Epochs : recipe.Epochs,
            DataDirectory = Given("--data") ? options.DataDirectory : recipe.DataDirectory,
            Optimizer = Given("--optimizer") ? options.Optimizer : recipe.Optimizer,
            Momentum = Given("--momentum") ? options.Momentum : recipe.Momentum,
            Nesterov = Given("--nesterov") ? options.Nesterov : recipe.Nesterov,
            WeightDecay = Given("--weight-decay") ? options.WeightDecay : recipe.WeightDecay,
            Betas = Given("--betas") ? options.Betas : recipe.Betas,
            Schedule = Given("--schedule") ? options.Schedule : recipe.Schedule,
            Warmup = Given("--warmup") ? options.Warmup : recipe.Warmup,
            StepEpochs = Given("--step-epochs") ? options.StepEpochs : recipe.StepEpochs,
            Gamma = Given("--gamma") ? options.Gamma : recipe.Gamma,
            Validation = Given("--validation") ? options.Validation : recipe.Validation,
            Augment = Given("--augment") ? options.Augment : recipe.Augment,
            OutputDirectory = Given("--output") ? options.OutputDirectory
                : Path.GetDirectoryName(Path.GetFullPath(checkpoint.Path))!,
        };
    }
}
