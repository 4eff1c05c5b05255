namespace LeNet.Train;

/// <summary>
/// Which epoch is best and when a run stops early. The monitored metric is the validation accuracy when images are
/// held out (higher is better), else the epoch's mean training loss (lower is better); only a strict improvement
/// counts, so a plateau runs out the patience.
/// </summary>
public static class EarlyStopping
{
    /// <summary>
    /// True when <paramref name="candidate"/> improves on <paramref name="best"/> (or there is none yet).
    /// </summary>
    public static bool Improves(EpochMetrics candidate, EpochMetrics? best) =>
        best is null || Score(candidate) > Score(best);

    private static double Score(EpochMetrics e) => e.ValidationAccuracy ?? -e.MeanLoss;

    /// <summary>
    /// Why the run stops after <paramref name="latest"/> (already added to <paramref name="metrics"/>, whose
    /// <see cref="TrainingMetrics.BestEpoch"/> is up to date), as the line the log ends with; null to go on.
    /// </summary>
    public static string? StopReason(TrainOptions options, TrainingMetrics metrics, EpochMetrics latest)
    {
        if (options.TargetAccuracy is { } target && (latest.ValidationAccuracy ?? latest.TestAccuracy) is { } reached
            && reached >= target)
            return $"Stopped after epoch {latest.Epoch}: the " +
                $"{(latest.ValidationAccuracy is null ? "test" : "validation")} " +
                $"accuracy {Text(reached, "F2")} % reached the target {Text(target)} %.";
        if (options.Patience is { } patience && metrics.BestEpoch is { } best && latest.Epoch - best >= patience)
            return $"Stopped after epoch {latest.Epoch}: " +
                $"{(latest.ValidationAccuracy is null ? "the mean training loss" : "the validation accuracy")} " +
                $"has not improved for {patience} epoch{(patience == 1 ? "" : "s")}; the best, epoch {best}, is in " +
                $"{Trainer.BestModelFileName}.";
        return null;
    }

    private static string Text(double value, string? format = null) =>
        value.ToString(format, CultureInfo.InvariantCulture);
}
