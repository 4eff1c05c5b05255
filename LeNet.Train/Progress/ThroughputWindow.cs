namespace LeNet.Train.Progress;

/// <summary>
/// Images per second over the last few seconds of training, for the live bar's speed and time left. The first steps
/// (compiling, warming caches) are slower than the rest, so they are left out, and no rate is given until the window
/// spans enough time to mean something: an average from the start would promise minutes for a run of seconds.
/// </summary>
public sealed class ThroughputWindow(double warmUpSeconds = 0.5, double windowSeconds = 3, double minimumSpan = 0.5)
{
    private readonly Queue<(double Seconds, long Images)> _samples = new();
    private double? _firstStep;
    private (double Seconds, long Images) _last;

    /// <summary>A step ended at <paramref name="seconds"/> on the run's clock, <paramref name="images"/> in.</summary>
    public void Add(double seconds, long images)
    {
        _firstStep ??= seconds;
        if (seconds - _firstStep < warmUpSeconds) return;
        _last = (seconds, images);
        _samples.Enqueue(_last);
        while (_samples.Count > 2 && seconds - _samples.Peek().Seconds > windowSeconds) _samples.Dequeue();
    }

    /// <summary>Training paused (the test set is evaluated between epochs): that time is not the steps'.</summary>
    public void Pause() => _samples.Clear();

    /// <summary>Images per second over the window, or null while it spans too little time to tell.</summary>
    public double? Rate
    {
        get
        {
            if (_samples.Count < 2) return null;
            var first = _samples.Peek();
            var span = _last.Seconds - first.Seconds;
            return span >= minimumSpan ? (_last.Images - first.Images) / span : null;
        }
    }
}
