namespace LeNet.Train.Progress;

/// <summary>The seed's log: "Epoch [e/E], Step [s/S], Loss: x" every <c>logEvery</c> steps, and epoch lines.</summary>
public sealed class LogLinesProgress(TextWriter log, int logEvery) : TrainingProgress
{
    private int _epoch, _epochs, _steps;

    public override void Run(Action body) => body();

    public override void EpochStarted(int epoch, int epochs, int steps, int images) =>
        (_epoch, _epochs, _steps) = (epoch, epochs, steps);

    public override void StepEnded(int step, float loss, int images)
    {
        if (step % logEvery == 0)
            log.WriteLine($"Epoch [{_epoch}/{_epochs}], Step [{step}/{_steps}], Loss: " +
                $"{loss.ToString("F4", CultureInfo.InvariantCulture)}");
    }

    public override void EpochEnded(EpochMetrics metrics, string summary) => log.WriteLine(summary);
}
