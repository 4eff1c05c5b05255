using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Training;
using LeNet.Kernels.Cuda;

namespace LeNet.Core.Cuda;

/// <summary>
/// The training step on a GPU: queued without waiting, its batch gathered at the schedule's cursor and its loss stored
/// on the device (<see cref="StepSchedule"/>), so that every full batch's step queues the same launches. With CUDA
/// graphs the third full step is captured and each later one replayed with one driver call.
/// </summary>
internal sealed class DeviceTrainingStep : TrainingStep
{
    private readonly Workspace _workspace = new();
    private readonly DeviceDataset _data;
    private readonly StepSchedule _schedule;
    private readonly Tensor _losses;
    private readonly bool _graphs;
    private CapturedStep? _captured;
    private int _eagerFullSteps;

    public DeviceTrainingStep(Module model, Optimizer optimizer, DeviceDataset data, int batchSize, bool cudaGraphs)
        : base(model, optimizer, data, batchSize)
    {
        _data = data;
        _schedule = new StepSchedule(data.Device, StepsPerEpoch);
        _losses = Tensor.Zeros(data.Device, StepsPerEpoch);
        _graphs = cudaGraphs && CapturedStep.IsSupported(data.Device);
    }

    public override bool IsSynchronous => false;
    // Adam reads each step's rate from the schedule's table; another optimiser takes its rate as a launch argument, so
    // with a changing rate its steps are launched one by one rather than replayed.
    protected override void OnStartEpoch(int firstStep)
    {
        if (Schedule is not { } rates || Optimizer is not Adam)
        {
            _schedule.StartEpoch(firstStep, Optimizer as Adam);
            return;
        }
        var first = Epoch * StepsPerEpoch;
        _schedule.StartEpoch(firstStep, (Adam)Optimizer,
            Enumerable.Range(firstStep, StepsPerEpoch - firstStep).Select(k => rates.RateAt(first + k)).ToArray());
    }

    private bool Replays => _graphs && (Schedule is null || Optimizer is Adam);

    protected override void RunStep(int step, int count, float[] losses)
    {
        var full = count == BatchSize;
        if (_captured is not null && full)
        {
            _captured.Replay();
            _schedule.CountReplayedStep();
        }
        else if (Replays && full && _eagerFullSteps >= 2)
        {
            try { _captured = CapturedStep.Capture(_data.Device, () => Queue(count)); }
            catch (CudaGraphException exception)
            {
                throw new StepCaptureException($"CUDA graphs: {exception.Message}", exception);
            }
            _captured.Replay();
            ReplaysSteps = true;
        }
        else
        {
            Queue(count);
            if (full) _eagerFullSteps++;
        }
    }

    private void Queue(int count)
    {
        using var scope = _workspace.Begin();
        var (input, labels) = _data.Batch(_schedule, BatchSize, count);
        var loss = Model.CrossEntropyLoss(input, labels);
        loss.Backward();
        _schedule.EndStep(loss, _losses, Optimizer); // the optimiser's step; with Adam, its launch also stores the loss
    }

    protected override void CopyLosses(float[] losses) => _losses.CopyTo(losses);

    public override void Dispose()
    {
        _captured?.Dispose(); // the graph lives in driver memory: released at once, not at exit
        _captured = null;
        base.Dispose();
    }
}
