using LeNet.Core.Files;
using LeNet.Core.Modules;
using LeNet.Core.Optim;

namespace LeNet.Train;

/// <summary>
/// The full state of a training run after an epoch, or after a step when the run was interrupted, as a
/// <see cref="Checkpoint"/> file: the model's parameters and buffers (<c>model.*</c>), the optimiser's state by
/// PyTorch's names (<c>adam.exp_avg.*</c>, <c>adam.exp_avg_sq.*</c>; <c>sgd.momentum_buffer.*</c>) and step count, the
/// epoch and the step within the next, the recipe, and the metrics so far. The learning-rate schedule and the
/// validation split are pure functions of the recipe and the step count, so they need no state of their own. The
/// shuffling needs no stored state: each epoch's order is a pure function of the seed and the epoch
/// (MnistBatcher.Permutation), so a resumed run sees exactly the order the first one would have, from the step it
/// stopped at.
/// </summary>
public sealed class TrainingCheckpoint
{
    public const string FileName = "checkpoint.lenetckpt";
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private TrainingCheckpoint(string path, Checkpoint file)
    {
        Path = path;
        File = file;
        var meta = file.Metadata;
        string? Value(string key) => meta.TryGetValue(key, out var value) ? value : null;
        string Required(string key) => Value(key) ?? throw new FormatException($"it has no '{key}'");
        int? Count(string key) => Value(key) is { Length: > 0 } text ? int.Parse(text, Invariant) : null;
        try
        {
            Epoch = int.Parse(Required("epoch"), Invariant);
            OptimizerSteps = int.Parse(Value("optimizer_step") ?? Required("adam_step"), Invariant);
            float Number(string key, float otherwise) =>
                Value(key) is { Length: > 0 } text ? float.Parse(text, Invariant) : otherwise;
            var defaults = new TrainOptions();
            Recipe = new TrainOptions
            {
                Model = file.Model, Seed = int.Parse(Required("seed"), Invariant),
                BatchSize = int.Parse(Required("batch_size"), Invariant),
                Epochs = int.Parse(Required("epochs"), Invariant),
                LearningRate = float.Parse(Required("lr"), Invariant), Limit = Count("limit"),
                TestLimit = Count("test_limit"), DataDirectory = Value("data") is { Length: > 0 } data ? data : null,
                // Checkpoints from before these options were trained with their defaults.
                Optimizer = Value("optimizer") ?? defaults.Optimizer,
                Betas = (Number("beta1", defaults.Betas.Beta1), Number("beta2", defaults.Betas.Beta2)),
                Momentum = Number("momentum", 0), Nesterov = Value("nesterov") == "true",
                WeightDecay = Value("weight_decay") is { Length: > 0 } ? Number("weight_decay", 0) : null,
                Schedule = Value("schedule") ?? defaults.Schedule, Warmup = Count("warmup") ?? 0,
                StepEpochs = Count("step_epochs") ?? defaults.StepEpochs, Gamma = Number("gamma", defaults.Gamma),
                Validation = Count("validation") ?? 0, Augment = Value("augment") == "true",
            };
            Step = Value("step") is { } step ? int.Parse(step, Invariant) : 0;
            EpochLossSum = Value("epoch_loss_sum") is { } lossSum ? double.Parse(lossSum, Invariant) : 0;
            EpochSeconds = Value("epoch_seconds") is { } seconds ? double.Parse(seconds, Invariant) : 0;
            DataIdentity = Value("data_sha256") is { Length: > 0 } identity ? identity : null;
            Metrics = JsonSerializer.Deserialize<TrainingMetrics>(Required("metrics"), JsonOptions)
                ?? throw new FormatException("no metrics");
            ClassNames = Value("class_names") is { } names ? JsonSerializer.Deserialize<string[]>(names) : null;
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or JsonException)
        {
            throw new CheckpointException(
                $"The checkpoint {path} lacks the training state this build writes ({e.Message.TrimEnd('.')}); use a " +
                "checkpoint written by LeNet.Train, or train again.", e);
        }
        // Past its checksum a file is what some writer wrote; these guard the run it starts against a writer's bug.
        var problem = Recipe.Problem()
            ?? (Epoch < 0 || Step < 0 || OptimizerSteps < 0
                ? $"epoch {Epoch}, step {Step} and optimiser step {OptimizerSteps} cannot all be counts" : null)
            ?? (!double.IsFinite(EpochLossSum) || !double.IsFinite(EpochSeconds) || EpochSeconds < 0
                ? "its partial epoch's loss or time is not a finite number" : null)
            ?? (ClassNames is not null && (ClassNames.Count < 2 || ClassNames.Any(n => n is null))
                ? "it does not hold a class name for each of two or more classes" : null)
            ?? (ClassNames?.Select(n => FileText.ClassNameProblem(n)).FirstOrDefault(p => p is not null) is { } name
                ? $"a class name cannot be printed: {name}" : null);
        if (problem is not null)
            throw new CheckpointException(
                $"The checkpoint {path} holds training state no run can use ({problem.TrimEnd('.')}); use a " +
                "checkpoint written by LeNet.Train, or train again.");
    }

    private static CultureInfo Invariant => CultureInfo.InvariantCulture;

    public string Path { get; }
    public Checkpoint File { get; }
    /// <summary>Epochs completed when the checkpoint was written.</summary>
    public int Epoch { get; }
    /// <summary>
    /// Steps completed in epoch <see cref="Epoch"/> + 1 when a run was interrupted between steps (0 at an epoch's end),
    /// with their loss sum and seconds, so that the resumed epoch's mean loss and time are the whole epoch's.
    /// </summary>
    public int Step { get; }
    public double EpochLossSum { get; }
    public double EpochSeconds { get; }
    /// <summary>The optimiser's step count (Adam's t).</summary>
    public int OptimizerSteps { get; }
    /// <summary>The options that decide the weights (model, seed, batch, lr, limits, data, epochs).</summary>
    public TrainOptions Recipe { get; }
    public TrainingMetrics Metrics { get; }
    /// <summary>The class names the checkpoint's run used (null when the checkpoint does not say).</summary>
    public IReadOnlyList<string>? ClassNames { get; }
    /// <summary>The run's data (MnistData.Identity: SHA-256 of its four files); null for older checkpoints.</summary>
    public string? DataIdentity { get; }

    /// <summary>Reads the checkpoint in (or at) <paramref name="folderOrFile"/>; a problem is one sentence.</summary>
    public static TrainingCheckpoint Load(string folderOrFile)
    {
        var path = Directory.Exists(folderOrFile) ? System.IO.Path.Combine(folderOrFile, FileName) : folderOrFile;
        if (!System.IO.File.Exists(path))
            throw new CheckpointException(
                $"There is no checkpoint at {path}; pass --resume the --output folder of a run that completed at " +
                "least one epoch.");
        return new TrainingCheckpoint(path, Checkpoint.Load(path));
    }

    public static TrainingCheckpoint Parse(byte[] bytes, string path) => new(path, Checkpoint.Parse(bytes, path));

    /// <summary>
    /// Writes the state after <paramref name="epoch"/> completed epochs and <paramref name="step"/> steps of the next
    /// (an interrupted run) atomically to <paramref name="folder"/>/checkpoint.lenetckpt.
    /// </summary>
    public static void Save(string folder, TrainOptions options, Module model, Optimizer optimizer, int epoch,
        TrainingMetrics metrics, IReadOnlyList<string> classNames, string? dataIdentity = null, int step = 0,
        double epochLossSum = 0, double epochSeconds = 0)
    {
        var names = model.NamedParameters().Select(p => p.Name).ToArray();
        var family = StatePrefix(optimizer);
        var tensors = model.StateDict().Select(e => ("model." + e.Name, e.Tensor))
            .Concat(optimizer.State.SelectMany(kind =>
                names.Select((name, i) => ($"{family}.{kind.Name}.{name}", kind.Tensors[i]))));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "lenet-csharp-checkpoint", ["epoch"] = Text(epoch), ["epochs"] = Text(options.Epochs),
            ["step"] = Text(step), ["epoch_loss_sum"] = epochLossSum.ToString("R", Invariant),
            ["epoch_seconds"] = epochSeconds.ToString("R", Invariant), ["optimizer_step"] = Text(optimizer.StepCount),
            ["optimizer"] = options.Optimizer, ["beta1"] = Text(options.Betas.Beta1),
            ["beta2"] = Text(options.Betas.Beta2), ["momentum"] = Text(options.Momentum),
            ["nesterov"] = options.Nesterov ? "true" : "false",
            ["weight_decay"] = options.WeightDecay is { } decay ? Text(decay) : "", ["schedule"] = options.Schedule,
            ["warmup"] = Text(options.Warmup), ["step_epochs"] = Text(options.StepEpochs),
            ["gamma"] = Text(options.Gamma), ["validation"] = Text(options.Validation),
            ["augment"] = options.Augment ? "true" : "false",
            ["seed"] = Text(options.Seed), ["batch_size"] = Text(options.BatchSize),
            ["lr"] = options.LearningRate.ToString("R", Invariant), ["limit"] = Text(options.Limit, ""),
            ["test_limit"] = Text(options.TestLimit, ""),
            ["data"] = options.DataDirectory is { } data ? System.IO.Path.GetFullPath(data) : "",
            ["data_sha256"] = dataIdentity ?? "",
            ["shuffle"] =
                "Fisher-Yates over System.Random(seed * 1000003 + epoch), per epoch (MnistBatcher.Permutation)",
            ["class_names"] = JsonSerializer.Serialize(classNames),
            ["metrics"] = JsonSerializer.Serialize(metrics, JsonOptions),
        };
        Checkpoint.Save(System.IO.Path.Combine(folder, FileName), options.Model, tensors, metadata);
    }

    /// <summary>
    /// The first sentence of disagreement between <paramref name="options"/> and this checkpoint's run (the same model,
    /// seed, batch, rate and limits; the epochs may grow), or null.
    /// </summary>
    public string? Disagreement(TrainOptions options)
    {
        if (options.Model != Recipe.Model)
            return $"The checkpoint {Path} holds model {Recipe.Model}, not {options.Model}; resume with --arch " +
                $"{Recipe.Model}, or train {options.Model} afresh without --resume.";
        (string Option, string Theirs, string Ours)[] recipe =
        [
            ("--seed", Text(Recipe.Seed), Text(options.Seed)),
            ("--batch-size", Text(Recipe.BatchSize), Text(options.BatchSize)),
            ("--lr", Recipe.LearningRate.ToString(Invariant), options.LearningRate.ToString(Invariant)),
            ("--limit", Text(Recipe.Limit, "all"), Text(options.Limit, "all")),
            ("--test-limit", Text(Recipe.TestLimit, "all"), Text(options.TestLimit, "all")),
            ("--optimizer", Recipe.Optimizer, options.Optimizer),
            ("--betas", Betas(Recipe), Betas(options)),
            ("--momentum", Text(Recipe.Momentum), Text(options.Momentum)),
            ("--nesterov", Recipe.Nesterov ? "on" : "off", options.Nesterov ? "on" : "off"),
            ("--weight-decay", Text(Recipe.EffectiveWeightDecay), Text(options.EffectiveWeightDecay)),
            ("--schedule", Recipe.Schedule, options.Schedule),
            ("--warmup", Text(Recipe.Warmup), Text(options.Warmup)),
            ("--step-epochs", Text(Recipe.StepEpochs), Text(options.StepEpochs)),
            ("--gamma", Text(Recipe.Gamma), Text(options.Gamma)),
            ("--validation", Text(Recipe.Validation), Text(options.Validation)),
            ("--augment", Recipe.Augment ? "on" : "off", options.Augment ? "on" : "off"),
        ];
        foreach (var (option, theirs, ours) in recipe)
            if (theirs != ours)
                return $"The checkpoint {Path} was written by a run with {option} {theirs}, but this run asks for " +
                    $"{ours}; resume without {option} to continue that run, or train afresh without --resume.";
        // cosine and onecycle spread over the run's steps: more epochs would change every rate already used.
        if (options.Epochs != Recipe.Epochs && Recipe.Schedule is "cosine" or "onecycle")
            return $"The checkpoint {Path} follows a {Recipe.Schedule} schedule fitted to --epochs {Recipe.Epochs}, " +
                $"which more epochs would change; resume with --epochs {Recipe.Epochs}.";
        if (options.Epochs < Epoch)
            return $"The checkpoint {Path} has already completed {Epoch} epochs, more than --epochs " +
                $"{options.Epochs}; pass --epochs {Epoch} or more.";
        if (Step > 0 && options.Epochs == Epoch)
            return $"The checkpoint {Path} stopped {Step} steps into epoch {Epoch + 1}, beyond --epochs " +
                $"{options.Epochs}; pass --epochs {Epoch + 1} or more.";
        return null;
    }

    /// <summary>
    /// Puts the saved weights and buffers into <paramref name="model"/> and, when given, the saved state into
    /// <paramref name="optimizer"/> (the kind the recipe names).
    /// </summary>
    public void Restore(Module model, Optimizer? optimizer)
    {
        var names = model.NamedParameters().Select(p => p.Name).ToArray();
        try
        {
            var state = optimizer?.State.ToDictionary(kind => kind.Name, kind =>
            {
                var saved = File.WithPrefix($"{StatePrefix(optimizer)}.{kind.Name}.");
                return (IReadOnlyList<float[]>)names.Select(n => saved[n].Values).ToArray();
            });
            model.LoadStateDict(File.WithPrefix("model."));
            optimizer?.LoadState(OptimizerSteps, state!);
        }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentException)
        {
            throw new CheckpointException(
                $"The checkpoint {Path} does not fit model {Recipe.Model} ({e.Message.TrimEnd('.')}); use a " +
                "checkpoint written by this build, or train again.", e);
        }
    }

    private static string StatePrefix(Optimizer optimizer) => optimizer is Sgd ? "sgd" : "adam";
    private static string Betas(TrainOptions o) => $"{Text(o.Betas.Beta1)},{Text(o.Betas.Beta2)}";
    private static string Text(float value) => value.ToString("R", Invariant);
    private static string Text(int value) => value.ToString(Invariant);
    private static string Text(int? value, string none) => value is { } v ? Text(v) : none;
}
