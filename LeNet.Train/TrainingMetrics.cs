namespace LeNet.Train;

/// <summary>What a run writes to its metrics JSON: one entry per epoch, then the totals.</summary>
public sealed record TrainingMetrics
{
    public required string Model { get; init; }
    public required string Device { get; init; }
    public required int Seed { get; init; }
    public required int BatchSize { get; init; }
    public required float LearningRate { get; init; }
    public required int TrainImages { get; init; }
    public required int TestImages { get; init; }
    public List<EpochMetrics> Epochs { get; init; } = [];
    public double FinalTestAccuracy { get; set; }
    /// <summary>Training time of all epochs (excluding data loading and evaluation).</summary>
    public double TrainingSeconds { get; set; }
    /// <summary>Wall time of the whole run, data loading and evaluation included.</summary>
    public double TotalSeconds { get; set; }
}

/// <summary>One epoch: training seconds and throughput, mean training loss, and test accuracy (%) after it.</summary>
public sealed record EpochMetrics(int Epoch, double Seconds, double ImagesPerSecond, double MeanLoss,
    double TestAccuracy);
