using LeNet.Core.Backends;
using LeNet.Core.Models;
using LeNet.Core.Optim;

namespace LeNet.Train;

/// <summary>Everything a training run is configured by; the defaults are the reference article's recipe.</summary>
public sealed record TrainOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 64;
    public float LearningRate { get; init; } = 0.001f;
    public int Seed { get; init; }
    /// <summary>The architecture (--arch), one of <see cref="ModelVariants"/>; checkpoints call it "model".</summary>
    public string Model { get; init; } = "lenet5";
    /// <summary>Folder holding (or to receive) the MNIST files; null: LENET_DATA, then ./data/mnist.</summary>
    public string? DataDirectory { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>Which CPU kernels run: "cpu" (SIMD) or "reference" (the scalar oracle).</summary>
    public string Kernels { get; init; } = "cpu";
    /// <summary>Threads the CPU kernels use; null: LENET_THREADS, else the processor count.</summary>
    public int? Threads { get; init; }
    /// <summary>Train on the first N training images only; null: all.</summary>
    public int? Limit { get; init; }
    /// <summary>Evaluate on the first N test images only; null: all.</summary>
    public int? TestLimit { get; init; }
    public string OutputDirectory { get; init; } = "output";
    /// <summary>Where the metrics JSON goes; null: metrics.json in the output folder.</summary>
    public string? MetricsFile { get; init; }
    public int LogEvery { get; init; } = 400;
    /// <summary>A checkpoint (folder or file) to continue from; null: start afresh.</summary>
    public string? Resume { get; init; }
    /// <summary>On a GPU, replay each full step as a CUDA graph (hidden <c>--cuda-graphs</c>; docs/gpu.md).</summary>
    public bool CudaGraphs { get; init; } = true;
    public bool Pictures { get; init; } = true;

    /// <summary>adam, adamw or sgd (<see cref="Optimizers"/>).</summary>
    public string Optimizer { get; init; } = "adam";
    /// <summary>Adam's and AdamW's (β₁, β₂).</summary>
    public (float Beta1, float Beta2) Betas { get; init; } = (0.9f, 0.999f);
    /// <summary>SGD's momentum (0: plain SGD).</summary>
    public float Momentum { get; init; }
    public bool Nesterov { get; init; }
    /// <summary>Weight decay; null: the optimiser's PyTorch default (0.01 for AdamW, else 0).</summary>
    public float? WeightDecay { get; init; }
    /// <summary>The learning-rate schedule, one of <see cref="LearningRateSchedule.Names"/>.</summary>
    public string Schedule { get; init; } = "constant";
    /// <summary>Steps of linear warmup before the schedule.</summary>
    public int Warmup { get; init; }
    /// <summary>step schedule: epochs between two decays, and the factor of each.</summary>
    public int StepEpochs { get; init; } = 1;
    public float Gamma { get; init; } = 0.1f;
    /// <summary>Training images held out (seeded, stratified) to validate on every epoch; 0: none.</summary>
    public int Validation { get; init; }
    /// <summary>
    /// Evaluate the test set after every epoch; null: only when nothing is held out (the seed run does).
    /// </summary>
    public bool? TestEveryEpoch { get; init; }
    /// <summary>Stop after this many epochs without improvement of the monitored metric.</summary>
    public int? Patience { get; init; }
    /// <summary>Stop once the monitored accuracy (validation, else test) reaches this many percent.</summary>
    public double? TargetAccuracy { get; init; }
    /// <summary>Train into a folder that holds another run's model, replacing it.</summary>
    public bool Overwrite { get; init; }
    /// <summary>Random affine distortions of every training image (shift, rotation, scale).</summary>
    public bool Augment { get; init; }
    /// <summary>
    /// Serve the live page on this loopback port while training (train --serve [PORT]); null: no page.
    /// </summary>
    public int? ServePort { get; init; }

    public static readonly IReadOnlyList<string> Optimizers = ["adam", "adamw", "sgd"];

    /// <summary>The weight decay the run uses.</summary>
    public float EffectiveWeightDecay => WeightDecay ?? (Optimizer == "adamw" ? 0.01f : 0f);
    public bool EvaluatesTestEveryEpoch => TestEveryEpoch ?? Validation == 0;

    /// <summary>
    /// The first value no run can use, as one sentence naming its option, or null. The command line refuses these as it
    /// parses; this catches them from a program calling <see cref="TrainCommand.Run"/> or a checkpoint's recipe.
    /// </summary>
    public string? Problem()
    {
        static string Whole(string option, int value) =>
            $"{option} must be a whole number of at least 1, not '{value.ToString(CultureInfo.InvariantCulture)}'.";
        if (Epochs < 1) return Whole("--epochs", Epochs);
        if (BatchSize < 1) return Whole("--batch-size", BatchSize);
        if (!(LearningRate > 0 && float.IsFinite(LearningRate)))
            return $"--lr must be a positive number, not '{LearningRate.ToString(CultureInfo.InvariantCulture)}'.";
        if (!ModelVariants.IsKnown(Model))
            return $"--arch {Model} is not an architecture; choose one of {string.Join(", ", ModelVariants.Names)}.";
        if (Limit is < 1) return Whole("--limit", Limit.Value);
        if (TestLimit is < 1) return Whole("--test-limit", TestLimit.Value);
        if (Threads is < 1) return Whole("--threads", Threads.Value);
        if (Threads > CpuBackend.MaxThreadCount)
            return CpuBackend.ThreadCountProblem("--threads", Threads.Value.ToString(CultureInfo.InvariantCulture));
        if (Threads is null && CpuBackend.ThreadsVariableProblem is { } variable) return variable;
        if (LogEvery < 1) return Whole("--log-every", LogEvery);
        if (!Optimizers.Contains(Optimizer))
            return $"--optimizer {Optimizer} is not an optimiser; choose one of {string.Join(", ", Optimizers)}.";
        if (!(Betas.Beta1 is >= 0 and < 1) || !(Betas.Beta2 is >= 0 and < 1))
            return $"--betas must be two numbers in [0, 1), not '{Single(Betas.Beta1)},{Single(Betas.Beta2)}'.";
        if (!(Momentum is >= 0 and < 1)) return $"--momentum must lie in [0, 1), not '{Single(Momentum)}'.";
        if (Optimizer != "sgd" && (Momentum != 0 || Nesterov))
            return $"--momentum and --nesterov are SGD's; with --optimizer {Optimizer} use --betas.";
        if (Nesterov && Momentum == 0) return "--nesterov needs a positive --momentum.";
        if (WeightDecay is { } decay && !(decay >= 0 && float.IsFinite(decay)))
            return $"--weight-decay must be a number of at least 0, not '{Single(decay)}'.";
        if (!LearningRateSchedule.Names.Contains(Schedule))
            return $"--schedule {Schedule} is not a schedule; choose one of " +
                $"{string.Join(", ", LearningRateSchedule.Names)}.";
        if (Warmup < 0) return Whole("--warmup", Warmup);
        if (Warmup > 0 && Schedule == "onecycle")
            return "--warmup does not apply to --schedule onecycle, which warms up by itself (its " +
                "first 30 % of steps).";
        if (StepEpochs < 1) return Whole("--step-epochs", StepEpochs);
        if (!(Gamma > 0 && float.IsFinite(Gamma))) return $"--gamma must be a positive number, not '{Single(Gamma)}'.";
        if (Validation < 0) return Whole("--validation", Validation);
        if (Patience is < 1) return Whole("--patience", Patience.Value);
        if (TargetAccuracy is { } target && !(target is > 0 and <= 100))
            return $"--target-accuracy must be a percentage above 0 and at most 100, not '{Number(target)}'.";
        if (TargetAccuracy is not null && Validation == 0 && !EvaluatesTestEveryEpoch)
            return "--target-accuracy needs an accuracy to watch: hold images out with --validation, or add " +
                "--test-every-epoch.";
        return null;

        static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
        static string Single(float value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
