using System.Diagnostics;
using Spectre.Console;

namespace LeNet.Train.Progress;

/// <summary>
/// A live bar per epoch (Spectre.Console): the running loss, images/s and the time left for the whole run; a finished
/// epoch's bar keeps its summary.
/// </summary>
public sealed class LiveProgress : TrainingProgress
{
    private ProgressContext? _context;
    private ProgressTask? _task;
    private readonly Stopwatch _clock = new();
    private int _epoch, _epochs, _steps, _epochImages;
    private double _lossSum;
    // Images of this epoch trained before a resume: not part of this process's rate.
    private int _resumedImages;
    // Images trained and seconds spent in this process, for the rate that predicts the time left.
    private long _imagesDone;
    private double _secondsDone;

    public override void Run(Action body) =>
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                new PercentageColumn(), new SpinnerColumn())
            .Start(context =>
            {
                _context = context;
                body();
            });

    public override void EpochStarted(int epoch, int epochs, int steps, int images)
    {
        (_epoch, _epochs, _steps, _epochImages, _lossSum, _resumedImages, RunningLoss) =
            (epoch, epochs, steps, images, 0, 0, 0);
        _task = _context?.AddTask(Markup.Escape($"Epoch {epoch}/{epochs}"), maxValue: steps);
        _clock.Restart();
    }

    public override void EpochResumed(int stepsDone, double lossSum, int imagesDone) =>
        (_lossSum, _resumedImages) = (lossSum, imagesDone);

    /// <summary>The mean loss of the epoch's steps so far, those before a resume included, as shown.</summary>
    public double RunningLoss { get; private set; }
    /// <summary>Images per second in this process (not a resumed epoch's earlier images), as shown.</summary>
    public double Rate { get; private set; }

    public override void StepEnded(int step, float loss, int images)
    {
        _lossSum += loss;
        RunningLoss = _lossSum / step;
        var seconds = _clock.Elapsed.TotalSeconds;
        Rate = (_imagesDone + images - _resumedImages) / Math.Max(_secondsDone + seconds, 1e-9);
        if (_task is null) return;
        _task.Value = step;
        var imagesLeft = (long)(_epochImages - images) + (long)(_epochs - _epoch) * _epochImages;
        var left = TimeSpan.FromSeconds(imagesLeft / Math.Max(Rate, 1e-9));
        _task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Epoch {_epoch}/{_epochs}  loss {RunningLoss:F4}  {Rate:N0} images/s  {Format(left)} left"));
    }

    public override void EpochEnded(EpochMetrics metrics, string summary)
    {
        _imagesDone += _epochImages;
        _secondsDone += metrics.Seconds;
        if (_task is null) return;
        _task.Value = _steps;
        _task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Epoch {_epoch}/{_epochs}  loss {metrics.MeanLoss:F4}  {metrics.ImagesPerSecond:N0} images/s  test " +
            $"accuracy {metrics.TestAccuracy:F2} %"));
        _task.StopTask();
    }

    private static string Format(TimeSpan time) =>
        time.TotalHours >= 1 ? $"{(int)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}"
            : $"{time.Minutes}:{time.Seconds:00}";
}
