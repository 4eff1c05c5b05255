using LeNet.Core.Backends;
using LeNet.Core.Models;

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
        return null;
    }
}
