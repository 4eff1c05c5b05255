using LeNet.Core.Autograd;
using LeNet.Core.Backends;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// CrossEntropy(Linear(ReLU(Linear(input, firstWeight, firstBias)), secondWeight, secondBias), labels) as one
    /// operation, LeNet-5's classifier head and loss: as the four in turn up to rounding where a backend fuses them.
    /// </summary>
    public static Tensor HeadLoss(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight,
        Tensor secondBias, Indices labels)
    {
        var first = CheckLinear(input, firstWeight, firstBias);
        RequireRank(secondWeight, 2, "Linear weight", "[Out, In]");
        RequireSameDevice("HeadLoss", input, secondWeight, secondBias);
        var shape = new HeadShape(first.Batch, first.InFeatures, first.OutFeatures, secondWeight.Size(0));
        if (secondWeight.Size(1) != shape.Hidden)
            throw new ArgumentException(
                $"Linear weight {Tensor.Format(secondWeight.Shape)} expects {secondWeight.Size(1)} input " +
                $"features, but the hidden layer has {shape.Hidden}.");
        RequireShape(secondBias, "Linear bias", shape.Classes);
        RequireLabels(labels, input.Device, shape.Batch, shape.Classes);
        var device = input.Device;
        var loss = Workspace.Tensor(device, []);
        if (!GradientTape.ShouldRecord(input, firstWeight, firstBias, secondWeight, secondBias))
        {
            device.Backend.HeadLossForward(input, firstWeight, firstBias, secondWeight, secondBias, labels, loss,
                saved: null, shape);
            return loss;
        }
        var saved = Workspace.Object<HeadLossSaved>();
        saved.Hidden = Workspace.Tensor(device, [shape.Batch, shape.Hidden]);
        saved.InputGradWanted = input.RequiresGrad;
        (saved.Logits, saved.Probabilities, saved.Scratch, saved.UnitInputGrad, saved.Loss) = (null, null, null, null,
            null);
        device.Backend.HeadLossForward(input, firstWeight, firstBias, secondWeight, secondBias, labels, loss, saved,
            shape);
        GradientTape.Record(loss, Workspace.Node<HeadLossBackward>().Set((input, firstWeight, firstBias, secondWeight,
            secondBias, labels, saved, shape)), input, firstWeight, firstBias, secondWeight, secondBias);
        return loss;
    }

    private sealed class HeadLossBackward() : SavingNode<HeadLossBackward, (Tensor Input, Tensor FirstWeight,
        Tensor FirstBias, Tensor SecondWeight, Tensor SecondBias, Indices Labels, HeadLossSaved Head, HeadShape Shape)>(
        inputs: 5)
    {
        public override void Backward(Tensor outputGrad) => Run(outputGrad);

        // The seed of a pass from this loss: where the forward computed the input's gradient for it, it is handed over.
        public override void BackwardFromOne(Device device)
        {
            if (Saved.Head.UnitInputGrad is { } unit) GradientTape.Pass(Saved.Input, unit);
            Run(lossGrad: null);
        }

        private void Run(Tensor? lossGrad)
        {
            var (input, firstWeight, firstBias, secondWeight, secondBias, labels, head, shape) = Saved;
            input.Device.Backend.HeadLossBackward(lossGrad, input, firstWeight, firstBias, secondWeight, secondBias,
                labels, head, lossGrad is null && head.UnitInputGrad is not null ? null : Target(input),
                Target(firstWeight), Target(firstBias), Target(secondWeight), Target(secondBias), shape);
        }
    }
}
