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
        GradientTape.Record(loss, Workspace.Node<HeadLossBackward>().Set(input, firstWeight, firstBias, secondWeight,
            secondBias, labels, saved, shape), input, firstWeight, firstBias, secondWeight, secondBias);
        return loss;
    }

    private sealed class HeadLossBackward() : Node(inputs: 5)
    {
        private Tensor _input = null!, _firstWeight = null!, _firstBias = null!, _secondWeight = null!,
            _secondBias = null!;
        private Indices _labels;
        private HeadLossSaved _saved = null!;
        private HeadShape _shape;

        public HeadLossBackward Set(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight,
            Tensor secondBias, Indices labels, HeadLossSaved saved, HeadShape shape)
        {
            (_input, _firstWeight, _firstBias, _secondWeight, _secondBias) = (input, firstWeight, firstBias,
                secondWeight, secondBias);
            (_labels, _saved, _shape) = (labels, saved, shape);
            return this;
        }

        public override void Backward(Tensor outputGrad) => Run(outputGrad);

        // The seed of a pass from this loss: where the forward computed the input's gradient for it, it is handed over.
        public override void BackwardFromOne(Device device)
        {
            if (_saved.UnitInputGrad is { } unit) GradientTape.Pass(_input, unit);
            Run(lossGrad: null);
        }

        private void Run(Tensor? lossGrad) =>
            _input.Device.Backend.HeadLossBackward(lossGrad, _input, _firstWeight, _firstBias, _secondWeight,
                _secondBias, _labels, _saved,
                lossGrad is null && _saved.UnitInputGrad is not null ? null : Target(_input), Target(_firstWeight),
                Target(_firstBias), Target(_secondWeight), Target(_secondBias), _shape);
    }
}
