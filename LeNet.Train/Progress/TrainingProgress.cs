namespace LeNet.Train.Progress;

/// <summary>
/// How a run shows its progress: the seed's plain log lines (<see cref="LogLinesProgress"/>, for redirected output,
/// CI and tests) or a live progress bar (<see cref="LiveProgress"/>, for an interactive console).
/// </summary>
public abstract class TrainingProgress
{
    /// <summary>Runs the training loop <paramref name="body"/> while the progress is shown.</summary>
    public abstract void Run(Action body);

    /// <summary>
    /// Epoch <paramref name="epoch"/> of <paramref name="epochs"/> starts with <paramref name="steps"/> steps of
    /// <paramref name="images"/> images in all.
    /// </summary>
    public abstract void EpochStarted(int epoch, int epochs, int steps, int images);

    /// <summary>
    /// Called after <see cref="EpochStarted"/> when a run resumes mid-epoch: <paramref name="stepsDone"/> steps of
    /// <paramref name="imagesDone"/> images, whose losses sum to <paramref name="lossSum"/>, were trained before the
    /// stop.
    /// </summary>
    public virtual void EpochResumed(int stepsDone, double lossSum, int imagesDone)
    {
    }

    /// <summary>
    /// Step <paramref name="step"/> (1-based) ended with <paramref name="loss"/> after <paramref name="images"/> images
    /// of this epoch.
    /// </summary>
    public abstract void StepEnded(int step, float loss, int images);

    /// <summary>The epoch ended; <paramref name="summary"/> is the seed's line for it.</summary>
    public abstract void EpochEnded(EpochMetrics metrics, string summary);

    /// <summary>
    /// The live bar on an interactive console (when <paramref name="console"/> is the real one and neither output is
    /// redirected), else log lines to <paramref name="log"/>.
    /// </summary>
    public static TrainingProgress For(TextWriter log, int logEvery, bool console)
    {
        var interactive = console && !Console.IsOutputRedirected && !Console.IsErrorRedirected
            && Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive;
        return interactive ? new LiveProgress() : new LogLinesProgress(log, logEvery);
    }
}
