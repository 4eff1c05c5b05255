using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace LeNet.Train.Progress;

/// <summary>
/// A live bar per epoch (Spectre.Console): the step within the epoch, the running loss, images/s and the time left for
/// the whole run, once the speed is known; a finished epoch's row keeps its summary and test accuracy.
/// </summary>
public sealed class LiveProgress(IAnsiConsole? console = null) : TrainingProgress
{
    private ProgressContext? _context;
    private ProgressTask? _task;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ThroughputWindow _window = new();
    private int _epoch, _epochs, _steps, _epochImages;
    private double _lossSum;
    // Images trained in this process before this epoch, for the window, which counts this process's images only.
    private long _imagesBefore;
    private int _resumedImages;
    // Seconds between an epoch's last step and the next epoch's first (evaluation, checkpoint): part of the time left.
    private double _pauseSeconds, _lastStepAt = double.NaN;

    public override void Run(Action body) =>
        (console ?? AnsiConsole.Console).Progress().AutoClear(false).HideCompleted(false)
            // A short bar leaves the status room on one line of an 80-column terminal.
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 15 },
                new StatusColumn())
            .Start(context =>
            {
                _context = context;
                body();
            });

    public override void EpochStarted(int epoch, int epochs, int steps, int images)
    {
        if (!double.IsNaN(_lastStepAt)) _pauseSeconds = _clock.Elapsed.TotalSeconds - _lastStepAt;
        _window.Pause();
        (_epoch, _epochs, _steps, _epochImages, _lossSum, _resumedImages, RunningLoss) =
            (epoch, epochs, steps, images, 0, 0, 0);
        Status = $"0/{steps}";
        _task = _context?.AddTask(Markup.Escape($"Epoch {epoch}/{epochs}"), maxValue: steps);
        if (_task is not null) _task.Tag = Status;
    }

    public override void EpochResumed(int stepsDone, double lossSum, int imagesDone) =>
        (_lossSum, _resumedImages) = (lossSum, imagesDone);

    /// <summary>The mean loss of the epoch's steps so far, those before a resume included, as shown.</summary>
    public double RunningLoss { get; private set; }
    /// <summary>Images per second over the last seconds of this process's steps, as shown; 0 until known.</summary>
    public double Rate { get; private set; }
    /// <summary>The time left for the whole run, as shown; null until the speed is known.</summary>
    public TimeSpan? Left { get; private set; }
    /// <summary>The text beside the current epoch's bar.</summary>
    public string Status { get; private set; } = "";

    public override void StepEnded(int step, float loss, int images)
    {
        _lossSum += loss;
        RunningLoss = _lossSum / step;
        _lastStepAt = _clock.Elapsed.TotalSeconds;
        _window.Add(_lastStepAt, _imagesBefore + images - _resumedImages);
        Rate = _window.Rate ?? Rate;
        // The evaluations still to come (this epoch's included) take about as long as the last one did.
        var imagesLeft = (long)(_epochImages - images) + (long)(_epochs - _epoch) * _epochImages;
        Left = Rate > 0 ? TimeSpan.FromSeconds(imagesLeft / Rate + (_epochs - _epoch + 1) * _pauseSeconds) : null;
        Status = Invariant($"{step}/{_steps}  loss {RunningLoss:F4}  ") + (Left is { } left
            ? Invariant($"{Rate:N0} img/s  {Format(left)} left") : "measuring speed");
        if (_task is null) return;
        _task.Value = step;
        _task.Tag = Status;
    }

    public override void EpochEnded(EpochMetrics metrics, string summary)
    {
        _imagesBefore += _epochImages - _resumedImages;
        Rate = _window.Rate ?? metrics.ImagesPerSecond;
        // As the plain epoch line: two decimals for the accuracy, as the final line has too.
        Status = Invariant($"loss {metrics.MeanLoss:F4}  {metrics.ImagesPerSecond:N0} img/s  ") +
            Invariant($"{metrics.Seconds:F2} s") + (metrics.ValidationAccuracy is { } validation
                ? Invariant($"  val {validation:F2} %") : "") + (metrics.TestAccuracy is { } test
                ? Invariant($"  test {test:F2} %") : "");
        if (_task is null) return;
        _task.Value = _steps;
        _task.Tag = Status;
        _task.StopTask();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Format(TimeSpan time) =>
        time.TotalHours >= 1 ? $"{(int)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}"
            : $"{time.Minutes}:{time.Seconds:00}";

    /// <summary>The text kept in each task's tag: step, loss, speed and time left, or the summary.</summary>
    private sealed class StatusColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Tag as string ?? "");
    }
}
