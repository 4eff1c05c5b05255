namespace LeNet.Train;

/// <summary>
/// What a run writes to its metrics JSON: the recipe, one entry per epoch, the loss curve, then the totals.
/// </summary>
public sealed record TrainingMetrics
{
    public required string Model { get; init; }
    public required string Device { get; init; }
    public required int Seed { get; init; }
    public required int BatchSize { get; init; }
    public required float LearningRate { get; init; }
    public required int TrainImages { get; init; }
    public required int TestImages { get; init; }
    /// <summary>adam, adamw or sgd.</summary>
    public string Optimizer { get; init; } = "adam";
    /// <summary>constant, step, cosine or onecycle (LearningRateSchedule.Names).</summary>
    public string Schedule { get; init; } = "constant";
    /// <summary>Training images held out to validate on (0: none; the test set is then watched every epoch).</summary>
    public int ValidationImages { get; init; }
    public List<EpochMetrics> Epochs { get; init; } = [];
    /// <summary>The training loss along the run: one point per <see cref="StepPoint"/> interval.</summary>
    public List<StepPoint> Steps { get; init; } = [];
    public double FinalTestAccuracy { get; set; }
    /// <summary>Mean cross-entropy on the test set at the end.</summary>
    public double? FinalTestLoss { get; set; }
    /// <summary>
    /// The epoch whose model is best.safetensors: the best validation accuracy, else the lowest loss.
    /// </summary>
    public int? BestEpoch { get; set; }
    /// <summary>The sentence saying why the run stopped early (patience, target accuracy); null when it ran every
    /// epoch.</summary>
    public string? StopReason { get; set; }
    /// <summary>Training time of all epochs (excluding data loading and evaluation).</summary>
    public double TrainingSeconds { get; set; }
    /// <summary>Wall time of the whole run, data loading and evaluation included.</summary>
    public double TotalSeconds { get; set; }
}

/// <summary>
/// One epoch: training seconds and throughput, mean training loss, and accuracies (%) after it: test (null when the
/// test set was not evaluated that epoch), training (running, over the epoch's batches) and validation when held out.
/// </summary>
public sealed record EpochMetrics(int Epoch, double Seconds, double ImagesPerSecond, double MeanLoss,
    double? TestAccuracy)
{
    public double? TrainAccuracy { get; init; }
    public double? ValidationLoss { get; init; }
    public double? ValidationAccuracy { get; init; }
    /// <summary>The learning rate of the epoch's last step.</summary>
    public double LearningRate { get; init; }
}

/// <summary>
/// The mean training loss of the steps since the previous point, at step <c>Step</c> (counted over the run).
/// </summary>
public sealed record StepPoint(int Step, int Epoch, double Loss, double LearningRate);
