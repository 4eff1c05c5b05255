using LeNet.Core.Modules;
using LeNet.Core.Optim;

namespace LeNet.Core.Training;

/// <summary>
/// One training step over a batch source, the same wherever it runs: the model's loss on the next batch, backward, and
/// the optimiser's step, which leaves the gradients at zero for the next. On the CPU each step runs at once and its
/// loss is known; on a GPU steps are queued and their losses stay on the device until <see cref="ReadLosses"/>.
/// </summary>
public abstract class TrainingStep : IDisposable
{
    private readonly float[] _losses;
    private int _read;

    protected TrainingStep(Module model, Optimizer optimizer, BatchSource data, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (data.Count < 1) throw new ArgumentException("A training step needs at least one image.", nameof(data));
        (Model, Optimizer, Data, BatchSize) = (model, optimizer, data, batchSize);
        StepsPerEpoch = (data.Count + batchSize - 1) / batchSize;
        _losses = new float[StepsPerEpoch];
    }

    /// <summary>On a CUDA GPU with cudaGraphs, full batches' steps are captured once and replayed.</summary>
    public static TrainingStep Create(Module model, Optimizer optimizer, BatchSource data, int batchSize,
        bool cudaGraphs = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.Device.Backend.CreateTrainingStep(model, optimizer, data, batchSize, cudaGraphs);
    }

    public Module Model { get; }
    public Optimizer Optimizer { get; }
    public BatchSource Data { get; }
    public int BatchSize { get; }
    public int StepsPerEpoch { get; }

    /// <summary>Steps of the current epoch run (or queued) so far, resumed ones included.</summary>
    public int Step { get; private set; }

    /// <summary>The current epoch, 0 for the first (from <see cref="StartEpoch"/>).</summary>
    public int Epoch { get; private set; }

    /// <summary>
    /// When set, step k of the run (counted over epochs: Epoch · StepsPerEpoch + Step) uses the schedule's rate k,
    /// whatever the optimiser's own rate was; unset, the optimiser's rate is left alone. Set before an epoch starts.
    /// </summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>The learning rate the next step uses.</summary>
    public float LearningRate => Schedule?.RateAt(Epoch * StepsPerEpoch + Step) ?? Optimizer.LearningRate;

    /// <summary>True once full batches' steps are replayed from a captured one (a CUDA graph).</summary>
    public bool ReplaysSteps { get; protected set; }

    /// <summary>True when <see cref="Run"/> waits for its step, so reading its loss costs nothing.</summary>
    public abstract bool IsSynchronous { get; }

    /// <summary>Images in step <paramref name="step"/> (0-based): the batch size, or fewer for the last.</summary>
    public int BatchLength(int step) => Math.Min(BatchSize, Data.Count - step * BatchSize);

    /// <summary>
    /// Epoch <paramref name="epoch"/> (0-based) starts: its batches follow <paramref name="order"/>, from step
    /// <paramref name="firstStep"/> on.
    /// </summary>
    public void StartEpoch(ReadOnlySpan<int> order, int firstStep = 0, int epoch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstStep);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(firstStep, StepsPerEpoch);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Data.SetOrder(order);
        (Step, _read, Epoch) = (firstStep, firstStep, epoch);
        OnStartEpoch(firstStep);
    }

    /// <summary>Runs (on a GPU: queues) the epoch's next step.</summary>
    public void Run()
    {
        if (Step >= StepsPerEpoch)
            throw new InvalidOperationException(
                $"The epoch's {StepsPerEpoch} steps are all taken; call StartEpoch before the next.");
        if (Schedule is not null) Optimizer.LearningRate = LearningRate;
        RunStep(Step, BatchLength(Step), _losses);
        Step++;
    }

    /// <summary>The losses of the steps run since the last read, in order (on a GPU this waits for them).</summary>
    public ReadOnlySpan<float> ReadLosses()
    {
        if (_read == Step) return [];
        CopyLosses(_losses);
        var losses = _losses.AsSpan(_read, Step - _read);
        _read = Step;
        return losses;
    }

    protected virtual void OnStartEpoch(int firstStep) { }

    /// <summary>A synchronous step writes its loss into losses[step].</summary>
    protected abstract void RunStep(int step, int count, float[] losses);

    /// <summary>Brings the losses of the steps run so far in (nothing to do where they are written at once).</summary>
    protected virtual void CopyLosses(float[] losses) { }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}
