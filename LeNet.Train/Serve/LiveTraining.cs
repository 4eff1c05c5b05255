using System.Diagnostics;
using System.Threading.Channels;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Train.Progress;

namespace LeNet.Train.Serve;

/// <summary>
/// A training run seen from the web page: the progress it reports becomes events (JSON, streamed to every open page,
/// replayed in full to a page opened late), and a copy of the model on the CPU, refreshed from the training weights
/// between two steps while someone draws, answers the page's predictions without touching the run's own model.
/// </summary>
public sealed class LiveTraining(TrainingProgress inner, double maxMegapixels) : TrainingProgress
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);
    // The copy is refreshed at most this often, and only while predictions were asked for in the last few seconds.
    private static readonly long RefreshTicks = Stopwatch.Frequency / 4, WantedTicks = 3 * Stopwatch.Frequency;

    /// <summary>The most step events kept for pages opened late (a 1,000-epoch run makes 100,000).</summary>
    public const int MaxSteps = 10_000;

    private readonly object _gate = new();
    // What a page opened late is sent: every event but the steps, and the steps at an even stride that doubles whenever
    // more than MaxSteps would be kept, so that a long run's history stays a few megabytes. Open pages get every event.
    // A step is kept with its number among the steps published (-1 for other events).
    private readonly List<(string Json, int Step)> _history = [];
    private int _stepsPublished, _stride = 1;
    private readonly List<Channel<string>> _pages = [];
    private readonly Stopwatch _clock = new();
    private long _lastAsked = long.MinValue / 2, _lastCopied = long.MinValue / 2;
    private int _epoch, _epochs, _steps, _firstStep;
    private double? _accuracy;
    private ModelInfo? _info;

    /// <summary>The model the page predicts with; null until the run has started.</summary>
    public Predictor? Predictor { get; private set; }

    public ModelInfo? Info
    {
        get { lock (_gate) return _info is null ? null : _info with { TestAccuracy = _accuracy }; }
    }

    /// <summary>Whether the run has ended (its last event sent).</summary>
    public bool Ended { get; private set; }

    /// <summary>Called by the page's predictions: the copy is kept fresh while someone draws.</summary>
    public void Asked() => Volatile.Write(ref _lastAsked, Stopwatch.GetTimestamp());

    /// <summary>
    /// Every event so far, and a reader of the ones to come; dispose the subscription when the page leaves.
    /// </summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            foreach (var (json, _) in _history) channel.Writer.TryWrite(json);
            if (Ended) channel.Writer.TryComplete();
            else _pages.Add(channel);
        }
        return new Subscription(this, channel);
    }

    public sealed class Subscription(LiveTraining live, Channel<string> channel) : IDisposable
    {
        public ChannelReader<string> Events => channel.Reader;

        public void Dispose()
        {
            lock (live._gate) live._pages.Remove(channel);
        }
    }

    public override void Run(Action body) => inner.Run(body);

    public override void RunStarted(string variant, Module model, IReadOnlyList<string> classNames, int epochs,
        int stepsPerEpoch, int firstEpoch, int firstStep)
    {
        inner.RunStarted(variant, model, classNames, epochs, stepsPerEpoch, firstEpoch, firstStep);
        (_epochs, _steps, _firstStep) = (epochs, stepsPerEpoch, (firstEpoch - 1) * stepsPerEpoch + firstStep);
        var copy = ModelVariants.Create(variant, classNames.Count).Eval();
        copy.LoadStateDict(State(model));
        lock (_gate) _info = ModelInfo.Of(variant, copy, classNames, null, null, training: true);
        Predictor = new Predictor(copy, classNames, maxMegapixels);
        _lastCopied = Stopwatch.GetTimestamp();
        _clock.Start();
        Publish(new { type = "start", model = _info.Model, epochs, stepsPerEpoch, firstEpoch, firstStep });
    }

    public override void EpochStarted(int epoch, int epochs, int steps, int images)
    {
        _epoch = epoch;
        inner.EpochStarted(epoch, epochs, steps, images);
    }

    public override void EpochResumed(int stepsDone, double lossSum, int imagesDone) =>
        inner.EpochResumed(stepsDone, lossSum, imagesDone);

    public override void StepEnded(int step, float loss, int images) => inner.StepEnded(step, loss, images);

    public override void PointAdded(StepPoint point)
    {
        inner.PointAdded(point);
        // The share of the run done, and the time left at the pace of the steps trained in this process.
        var total = _epochs * _steps;
        var elapsed = _clock.Elapsed.TotalSeconds;
        var done = point.Step - _firstStep;
        Publish(new
        {
            type = "step", step = point.Step, epoch = point.Epoch, loss = Finite(point.Loss),
            rate = point.LearningRate, fraction = (double)point.Step / total, elapsed,
            remaining = done > 0 ? elapsed * (total - point.Step) / done : (double?)null,
        }, step: true);
    }

    public override void BetweenSteps(Module model)
    {
        var now = Stopwatch.GetTimestamp();
        if (Predictor is not { } predictor || now - Volatile.Read(ref _lastAsked) > WantedTicks
            || now - _lastCopied < RefreshTicks) return;
        predictor.Load(State(model));
        _lastCopied = now;
    }

    public override void EpochEnded(EpochMetrics metrics, string summary)
    {
        inner.EpochEnded(metrics, summary);
        lock (_gate) _accuracy = metrics.TestAccuracy ?? metrics.ValidationAccuracy ?? _accuracy;
        Publish(new
        {
            type = "epoch", epoch = metrics.Epoch, epochs = _epochs, meanLoss = Finite(metrics.MeanLoss),
            trainAccuracy = metrics.TrainAccuracy, validationAccuracy = metrics.ValidationAccuracy,
            testAccuracy = metrics.TestAccuracy, learningRate = metrics.LearningRate, seconds = metrics.Seconds,
        });
    }

    public override void RunEnded(Module model, double testAccuracy, string? stopReason)
    {
        inner.RunEnded(model, testAccuracy, stopReason);
        Predictor?.Load(State(model));
        lock (_gate) _accuracy = testAccuracy;
        Publish(new { type = "end", testAccuracy, stopReason, elapsed = _clock.Elapsed.TotalSeconds });
        lock (_gate)
        {
            Ended = true;
            foreach (var page in _pages) page.Writer.TryComplete();
            _pages.Clear();
        }
    }

    private void Publish(object value, bool step = false)
    {
        var json = JsonSerializer.Serialize(value, JsonOptions);
        lock (_gate)
        {
            if (!step) _history.Add((json, -1));
            else if (_stepsPublished++ % _stride == 0)
            {
                _history.Add((json, _stepsPublished - 1));
                // The steps kept are the multiples of the stride below the count published.
                if ((_stepsPublished + _stride - 1) / _stride > MaxSteps)
                {
                    _stride *= 2;
                    _history.RemoveAll(e => e.Step >= 0 && e.Step % _stride != 0);
                }
            }
            foreach (var page in _pages) page.Writer.TryWrite(json);
        }
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static Dictionary<string, (int[] Shape, float[] Values)> State(Module model) =>
        model.StateDict().ToDictionary(e => e.Name, e => (e.Tensor.Shape.ToArray(), e.Tensor.ToArray()));
}
