namespace LeNet.Train.Progress;

/// <summary>
/// How a run shows its progress: the seed's plain log lines (redirected output, CI, tests) or a live bar (a console).
/// </summary>
public abstract class TrainingProgress
{
    /// <summary>Runs the training loop <paramref name="body"/> while the progress is shown.</summary>
    public abstract void Run(Action body);
    public abstract void EpochStarted(int epoch, int epochs, int steps, int images);

    /// <summary>After <see cref="EpochStarted"/> on a resume mid-epoch: what was trained before the stop.</summary>
    public virtual void EpochResumed(int stepsDone, double lossSum, int imagesDone) { }

    /// <summary>Step <paramref name="step"/> ended, <paramref name="images"/> images into its epoch.</summary>
    public abstract void StepEnded(int step, float loss, int images);
    /// <summary>The epoch ended; <paramref name="summary"/> is the seed's line for it.</summary>
    public abstract void EpochEnded(EpochMetrics metrics, string summary);

    /// <summary>
    /// Before the first step: the model trained (its weights as initialised or resumed) and the run's size.
    /// </summary>
    public virtual void RunStarted(string variant, LeNet.Core.Modules.Module model, IReadOnlyList<string> classNames,
        int epochs, int stepsPerEpoch, int firstEpoch, int firstStep) { }

    /// <summary>A point of the loss curve was recorded (one per 1 % of an epoch).</summary>
    public virtual void PointAdded(StepPoint point) { }

    /// <summary>On the training thread between two steps, where the model's weights are whole.</summary>
    public virtual void BetweenSteps(LeNet.Core.Modules.Module model) { }

    /// <summary>After the final test evaluation, with the trained model.</summary>
    public virtual void RunEnded(LeNet.Core.Modules.Module model, double testAccuracy, string? stopReason) { }

    /// <summary>
    /// The live bar on an interactive terminal, else (output redirected, TERM=dumb, NO_COLOR set, or quiet) log lines,
    /// which a quiet run sends nowhere.
    /// </summary>
    public static TrainingProgress For(TextWriter log, int logEvery, bool quiet = false) =>
        !quiet && WantsLiveBar(Console.IsOutputRedirected || Console.IsErrorRedirected,
            Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive, Environment.GetEnvironmentVariable("TERM"),
            Environment.GetEnvironmentVariable("NO_COLOR"))
            ? new LiveProgress() : new LogLinesProgress(log, logEvery);

    /// <summary>
    /// Whether a terminal can show the live bar: not redirected, interactive, not a dumb terminal, and not asked for
    /// plain output by NO_COLOR (no-color.org: set and not empty).
    /// </summary>
    public static bool WantsLiveBar(bool redirected, bool interactive, string? term, string? noColor) =>
        !redirected && interactive && term != "dumb" && string.IsNullOrEmpty(noColor);
}
