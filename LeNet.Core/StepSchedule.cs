using ILGPU.Runtime;
using LeNet.Core.Backends;
using LeNet.Core.Optim;
using LeNet.Kernels.Cuda;

namespace LeNet.Core;

/// <summary>
/// An epoch's steps on a GPU device, with the loop's position kept in device memory: a cursor holding the current
/// step's index, read by the batch gather (<see cref="DeviceDataset.Batch(StepSchedule, int, int)"/>) and by Adam (its
/// bias corrections come from a per-step table, see <see cref="Adam.Schedule"/>), and advanced by the step's last
/// launch (<see cref="EndStep(Tensor, Tensor)"/>), which also stores the step's loss — or by the scheduled Adam's launch
/// itself (<see cref="EndStep(Tensor, Tensor, Optimizer)"/>). Every launch of a step then has the arguments of
/// the step before, so a step can be captured once and replayed (<see cref="CapturedStep"/>); run step by step it
/// computes bit for bit what the same loop with host-side offsets and step counts computes.
/// </summary>
public sealed class StepSchedule
{
    private readonly float[] _table;
    private Adam? _adam;
    private int _firstStep, _firstAdamStep;
    private float _learningRate;

    public StepSchedule(Device device, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Backend is not CudaBackend)
            throw new ArgumentException($"A StepSchedule keeps its cursor on a GPU device, not on {device}.", nameof(device));
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        Device = device;
        StepsPerEpoch = stepsPerEpoch;
        Cursor = Indices.Allocate(device, 1);
        AdamTable = Tensor.Zeros(device, 2 * stepsPerEpoch);
        _table = new float[2 * stepsPerEpoch];
    }

    public Device Device { get; }

    public int StepsPerEpoch { get; }

    /// <summary>The index (0-based) of the step the queued work has reached: what the cursor holds once that work has run.</summary>
    public int Step { get; private set; }

    internal Indices Cursor { get; }

    /// <summary>Adam's (step size, √(1 − β₂ᵗ)) per step of the epoch, from <see cref="StartEpoch"/>.</summary>
    internal Tensor AdamTable { get; }

    private CudaBackend Backend => (CudaBackend)Device.Backend;

    /// <summary>
    /// Starts an epoch at step <paramref name="firstStep"/> (0-based; more than 0 for a run resumed mid-epoch): sets the
    /// cursor and, with an <paramref name="adam"/>, writes the bias corrections of its next steps, one per remaining step
    /// of the epoch, and makes it read them (<see cref="Adam.Schedule"/>).
    /// </summary>
    public void StartEpoch(int firstStep, Adam? adam = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstStep);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(firstStep, StepsPerEpoch);
        if (adam is not null && adam.Parameters[0].Device != Device)
            throw new ArgumentException($"The optimiser's parameters live on {adam.Parameters[0].Device}, the schedule on {Device}.", nameof(adam));
        Step = _firstStep = firstStep;
        Cursor.View.CopyFromCPU(Backend.Kernels.Stream, [firstStep]);
        _adam = adam;
        if (adam is null) return;
        (_firstAdamStep, _learningRate) = (adam.StepCount + 1, adam.LearningRate);
        var remaining = _table.AsSpan(2 * firstStep);
        CudaKernels.AdamScheduleTable(remaining, _firstAdamStep, adam.LearningRate, adam.Beta1, adam.Beta2);
        AdamTable.View.SubView(2 * firstStep, remaining.Length).CopyFromCPU(Backend.Kernels.Stream, remaining);
        adam.Schedule = this;
    }

    /// <summary>
    /// Checks that Adam's step <paramref name="adamStep"/> (1-based) is the one the table holds for the current step:
    /// its count and learning rate are those <see cref="StartEpoch"/> wrote the table for.
    /// </summary>
    internal void RequireAdamStep(Adam adam, int adamStep)
    {
        if (!ReferenceEquals(adam, _adam))
            throw new InvalidOperationException("This Adam reads its step sizes from a schedule that was started for another optimiser; call StartEpoch with it.");
        if (Step >= StepsPerEpoch)
            throw new InvalidOperationException($"The schedule's epoch has {StepsPerEpoch} steps, all taken; call StartEpoch before the next.");
        if (adamStep != _firstAdamStep + (Step - _firstStep) || adam.LearningRate != _learningRate)
            throw new InvalidOperationException($"Adam is at step {adamStep} with learning rate {adam.LearningRate}, but the schedule holds step " +
                $"{_firstAdamStep + (Step - _firstStep)} with {_learningRate} for step {Step} of the epoch; call StartEpoch again after changing either.");
    }

    /// <summary>The step's last launch: stores <paramref name="loss"/> at losses[cursor] and advances the cursor.</summary>
    public void EndStep(Tensor loss, Tensor losses)
    {
        CheckEndStep(loss, losses);
        Backend.EndStep(loss, losses, Cursor);
        Step++;
    }

    /// <summary>
    /// The optimiser's step, then <see cref="EndStep(Tensor, Tensor)"/>: with the Adam this schedule was started for
    /// (<see cref="Adam.Schedule"/>), in one launch — Adam's, whose last group to finish stores the loss and advances the
    /// cursor — else in the optimiser's launches and one more. The same results either way.
    /// </summary>
    public void EndStep(Tensor loss, Tensor losses, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        CheckEndStep(loss, losses);
        if (optimizer is Adam { Schedule: { } schedule } && ReferenceEquals(schedule, this))
        {
            _stepEnd = (loss, losses);
            try
            {
                optimizer.Step();
            }
            catch
            {
                _stepEnd = default; // refused before anything was queued: nothing to end
                throw;
            }
            // Adam took it unless its parameters were not packed (then it stepped tensor by tensor, unscheduled).
            if (TakeStepEnd().Loss is not null)
                Backend.EndStep(loss, losses, Cursor);
        }
        else
        {
            optimizer.Step();
            Backend.EndStep(loss, losses, Cursor);
        }
        Step++;
    }

    private (Tensor? Loss, Tensor? Losses) _stepEnd;

    /// <summary>The loss and losses <see cref="EndStep(Tensor, Tensor, Optimizer)"/> hands to Adam's launch (and forgets); (null, null) outside it.</summary>
    internal (Tensor? Loss, Tensor? Losses) TakeStepEnd()
    {
        var taken = _stepEnd;
        _stepEnd = default;
        return taken;
    }

    private void CheckEndStep(Tensor loss, Tensor losses)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(losses);
        if (loss.Device != Device || losses.Device != Device)
            throw new ArgumentException($"The loss and the losses must live on the schedule's device {Device}.", nameof(loss));
        if (losses.Length < StepsPerEpoch)
            throw new ArgumentException($"The losses hold {losses.Length} values, not one per step of the epoch ({StepsPerEpoch}).", nameof(losses));
        if (Step >= StepsPerEpoch)
            throw new InvalidOperationException($"The schedule's epoch has {StepsPerEpoch} steps, all taken; call StartEpoch before the next.");
    }

    /// <summary>
    /// Counts a step run by replaying a captured one (<see cref="CapturedStep.Replay"/>), whose launches advanced the
    /// device's cursor and took Adam's step without this host code: the host's step and Adam's count follow.
    /// </summary>
    public void CountReplayedStep()
    {
        if (Step >= StepsPerEpoch)
            throw new InvalidOperationException($"The schedule's epoch has {StepsPerEpoch} steps, all taken; call StartEpoch before the next.");
        if (_adam is not null)
        {
            RequireAdamStep(_adam, _adam.StepCount + 1);
            _adam.CountReplayedStep();
        }
        Step++;
    }
}
