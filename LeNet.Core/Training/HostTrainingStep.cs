using LeNet.Core.Modules;
using LeNet.Core.Optim;

namespace LeNet.Core.Training;

/// <summary>Each step runs at once, reusing the last step's tensors (a workspace): no allocation once warm.</summary>
internal sealed class HostTrainingStep(Module model, Optimizer optimizer, BatchSource data, int batchSize)
    : TrainingStep(model, optimizer, data, batchSize)
{
    private readonly Workspace _workspace = new();
    public override bool IsSynchronous => true;

    protected override void RunStep(int step, int count, float[] losses)
    {
        using var scope = _workspace.Begin();
        var (input, labels) = Data.Batch(step * BatchSize, count);
        var loss = Model.CrossEntropyLoss(input, labels);
        loss.Backward();
        Optimizer.Step(zeroGradients: true);
        losses[step] = loss.Item();
    }
}
