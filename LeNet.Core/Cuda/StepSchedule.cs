using LeNet.Core.Optim;
using LeNet.Kernels.Cuda;

namespace LeNet.Core.Cuda;

/// <summary>
/// An epoch's steps on a GPU device, with the loop's position kept in device memory: a cursor holding the current
/// step's index, read by the batch gather (<see cref="DeviceDataset.Batch(StepSchedule, int, int)"/>) and by Adam (its
/// bias corrections come from a per-step table written by <see cref="StartEpoch"/>), and advanced by the step's last
/// launch, which also stores the step's loss. Every launch of a step then has the arguments of the step before, so a
/// step can be captured once and replayed (<see cref="CapturedStep"/>); run step by step it computes bit for bit what
/// the same loop with host-side offsets and step counts computes.
/// </summary>
public sealed class StepSchedule
{
    private readonly float[] _table;
    private readonly CudaBackend _backend;
    private Adam? _adam;
    private int _firstStep, _firstAdamStep;
    private float _learningRate; // NaN when the rates came from a schedule
    private readonly float[] _rates;

    public StepSchedule(Device device, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(device);
        _backend = device.Backend as CudaBackend
            ?? throw new ArgumentException($"A StepSchedule keeps its cursor on a GPU device, not on {device}.",
                nameof(device));
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        (Device, StepsPerEpoch) = (device, stepsPerEpoch);
        Cursor = Indices.Allocate(device, 1);
        AdamTable = Tensor.Zeros(device, CudaKernels.ScheduleStride * stepsPerEpoch);
        _table = new float[CudaKernels.ScheduleStride * stepsPerEpoch];
        _rates = new float[stepsPerEpoch];
    }

    public Device Device { get; }
    public int StepsPerEpoch { get; }

    /// <summary>The step (0-based) the queued work has reached: what the cursor holds once that work has run.</summary>
    public int Step { get; private set; }
    internal Indices Cursor { get; }

    /// <summary>
    /// Adam's (step size, √(1 − β₂ᵗ), 1 − rate·λ) per step of the epoch, from <see cref="StartEpoch"/>.
    /// </summary>
    internal Tensor AdamTable { get; }

    /// <summary>
    /// Sets the cursor and, with Adam, writes the scalars of the epoch's remaining steps: at Adam's own learning rate,
    /// or at <paramref name="rates"/>[i] for step firstStep + i when given (a schedule's; one per remaining step).
    /// </summary>
    public void StartEpoch(int firstStep, Adam? adam = null, ReadOnlySpan<float> rates = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstStep);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(firstStep, StepsPerEpoch);
        if (adam is not null && adam.Parameters[0].Device != Device)
            throw new ArgumentException(
                $"The optimiser's parameters live on {adam.Parameters[0].Device}, the schedule on {Device}.",
                nameof(adam));
        Step = _firstStep = firstStep;
        Cursor.CopyFrom([firstStep]);
        _adam = adam;
        if (adam is null) return;
        var steps = StepsPerEpoch - firstStep;
        if (!rates.IsEmpty && rates.Length != steps)
            throw new ArgumentException($"{rates.Length} rates given for the epoch's {steps} remaining steps.",
                nameof(rates));
        (_firstAdamStep, _learningRate) = (adam.StepCount + 1, rates.IsEmpty ? adam.LearningRate : float.NaN);
        if (rates.IsEmpty) _rates.AsSpan(0, steps).Fill(adam.LearningRate);
        else rates.CopyTo(_rates);
        var remaining = _table.AsSpan(CudaKernels.ScheduleStride * firstStep);
        CudaKernels.AdamScheduleTable(remaining, _firstAdamStep, _rates.AsSpan(0, steps), adam.Beta1, adam.Beta2,
            adam.WeightDecay);
        AdamTable.Memory.Slice(CudaKernels.ScheduleStride * firstStep, remaining.Length).CopyFromHost(remaining);
    }

    /// <summary>The step's last launch: stores the loss at losses[cursor] and advances the cursor.</summary>
    public void EndStep(Tensor loss, Tensor losses)
    {
        CheckEndStep(loss, losses);
        _backend.EndStep(loss, losses, Cursor);
        Step++;
    }

    /// <summary>
    /// The optimiser's step, leaving the gradients at zero, then <see cref="EndStep(Tensor, Tensor)"/>: with the Adam
    /// this epoch was started for, in one launch (Adam's, reading its bias corrections at the cursor, whose last group
    /// to finish stores the loss and advances the cursor), else in the optimiser's launches and one more; the same
    /// results either way.
    /// </summary>
    public void EndStep(Tensor loss, Tensor losses, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        CheckEndStep(loss, losses);
        if (ReferenceEquals(optimizer, _adam) && _adam.TryPacked(out var parameters, out var grads, out var moments))
        {
            CountAdamStep();
            _backend.AdamScheduled(parameters, grads, moments[0], moments[1], this, _adam.Beta1, _adam.Beta2,
                _adam.Eps, _adam.WeightDecay, _adam.Decoupled, clearGradient: true, loss, losses);
        }
        else
        {
            optimizer.Step(zeroGradients: true);
            _backend.EndStep(loss, losses, Cursor);
        }
        Step++;
    }

    /// <summary>A replayed step advanced the cursor on the device: the host's step and Adam's count follow.</summary>
    public void CountReplayedStep()
    {
        ThrowIfEpochDone();
        if (_adam is not null) CountAdamStep();
        Step++;
    }

    // Adam's next step and learning rate must be those StartEpoch wrote the table for (callers checked the epoch);
    // one out of turn is refused before anything changes.
    private void CountAdamStep()
    {
        var adamStep = _adam!.StepCount + 1;
        if (adamStep != _firstAdamStep + (Step - _firstStep)
            || !float.IsNaN(_learningRate) && _adam.LearningRate != _learningRate)
            throw new InvalidOperationException(
                $"Adam is at step {adamStep} with learning rate {_adam.LearningRate}, but the schedule holds step " +
                $"{_firstAdamStep + (Step - _firstStep)} with {_learningRate} for step {Step} of the epoch; call " +
                "StartEpoch again after changing either.");
        _adam.CountStep();
    }

    private void CheckEndStep(Tensor loss, Tensor losses)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(losses);
        if (loss.Device != Device || losses.Device != Device)
            throw new ArgumentException($"The loss and the losses must live on the schedule's device {Device}.",
                nameof(loss));
        if (losses.Length < StepsPerEpoch)
            throw new ArgumentException(
                $"The losses hold {losses.Length} values, not one per step of the epoch ({StepsPerEpoch}).",
                nameof(losses));
        ThrowIfEpochDone();
    }

    private void ThrowIfEpochDone()
    {
        if (Step >= StepsPerEpoch)
            throw new InvalidOperationException(
                $"The schedule's epoch has {StepsPerEpoch} steps, all taken; call StartEpoch before the next.");
    }
}
