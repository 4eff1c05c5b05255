using LeNet.Core.Autograd;
using LeNet.Kernels;

namespace LeNet.Core.Functional;

public static partial class F
{
    /// <summary>
    /// CrossEntropy(Linear(ReLU(Linear(input, firstWeight, firstBias)), secondWeight, secondBias), labels): a classifier
    /// head and its loss (LeNet-5's fc1 → relu1 → fc2 → CrossEntropyLoss) as one operation where the backend fuses them
    /// (<see cref="Backends.Backend.FusesHeadCrossEntropy"/>): on a GPU, one launch computes the loss and, for a loss
    /// gradient of 1 — what a backward pass from this loss gives — every row's gradients down to the input; the backward
    /// adds the weight gradients in one more launch (seven launches for the four operations in turn). Elsewhere, and for
    /// heads that do not fit, the four operations in turn. The same loss and gradients either way (up to rounding).
    /// </summary>
    public static Tensor LinearReLULinearCrossEntropy(Tensor input, Tensor firstWeight, Tensor? firstBias, Tensor secondWeight, Tensor? secondBias,
        Indices labels)
    {
        var first = CheckLinear(input, firstWeight, firstBias);
        var backend = input.Device.Backend;
        var shape = new HeadShape(first.Batch, first.InFeatures, first.OutFeatures, secondWeight.Rank == 2 ? secondWeight.Size(0) : 0);
        if (firstBias is null || secondBias is null || secondWeight.Rank != 2 || secondWeight.Size(1) != shape.Hidden
            || secondBias.Rank != 1 || secondBias.Size(0) != shape.Classes || secondWeight.Device != input.Device || secondBias.Device != input.Device
            || labels.IsHost || labels.Length != shape.Batch || !backend.FusesHeadCrossEntropy(shape)
            || AnyOverlap(firstWeight, firstBias, secondWeight, secondBias))
        {
            // The operations in turn; they also say what is wrong with arguments the fused path does not take.
            var hidden = backend.FusesLinearReLU ? LinearReLU(input, firstWeight, firstBias) : ReLU(Linear(input, firstWeight, firstBias));
            return CrossEntropy(Linear(hidden, secondWeight, secondBias), labels);
        }

        var device = input.Device;
        var hiddenOutput = Workspace.Tensor(device, [shape.Batch, shape.Hidden]);
        var scratch = Workspace.Tensor(device, [shape.ScratchLength]);
        var loss = Workspace.Tensor(device, []);
        bool record = GradientTape.ShouldRecord(input, firstWeight, firstBias) || GradientTape.ShouldRecord(secondWeight, secondBias);
        var unitInputGrad = record && input.RequiresGrad ? Workspace.Tensor(device, input.Shape) : null;
        backend.HeadForwardBackward(input, firstWeight, firstBias, secondWeight, secondBias, labels, device.One, hiddenOutput, loss, scratch,
            unitInputGrad, writeLoss: true, overwriteInput: true, shape);
        if (record)
            GradientTape.Record(loss, Workspace.Node<LinearReLULinearCrossEntropyBackward>().Set(input, firstWeight, firstBias, secondWeight, secondBias,
                labels, hiddenOutput, loss, scratch, unitInputGrad, shape), input, firstWeight, firstBias, secondWeight, secondBias);
        return loss;
    }

    /// <summary>Whether two of the head's parameters share storage: their gradients would be written by one launch at once.</summary>
    private static bool AnyOverlap(Tensor a, Tensor b, Tensor c, Tensor d) =>
        a.Overlaps(b) || a.Overlaps(c) || a.Overlaps(d) || b.Overlaps(c) || b.Overlaps(d) || c.Overlaps(d);

    private sealed class LinearReLULinearCrossEntropyBackward() : Node(5)
    {
        private Tensor _input = null!, _firstWeight = null!, _firstBias = null!, _secondWeight = null!, _secondBias = null!;
        private Tensor _hidden = null!, _loss = null!, _scratch = null!;
        private Tensor? _unitInputGrad;
        private Indices _labels;
        private HeadShape _shape;

        public LinearReLULinearCrossEntropyBackward Set(Tensor input, Tensor firstWeight, Tensor firstBias, Tensor secondWeight, Tensor secondBias,
            Indices labels, Tensor hidden, Tensor loss, Tensor scratch, Tensor? unitInputGrad, HeadShape shape)
        {
            (_input, _firstWeight, _firstBias, _secondWeight, _secondBias) = (input, firstWeight, firstBias, secondWeight, secondBias);
            (_labels, _hidden, _loss, _scratch, _unitInputGrad, _shape) = (labels, hidden, loss, scratch, unitInputGrad, shape);
            return this;
        }

        public override void Backward(Tensor outputGrad)
        {
            var backend = _input.Device.Backend;
            if (!ReferenceEquals(outputGrad, _input.Device.One))
            {
                // Seeded with another gradient: the row kernel again, for it (the loss is already written).
                backend.HeadForwardBackward(_input, _firstWeight, _firstBias, _secondWeight, _secondBias, _labels, outputGrad, _hidden, _loss, _scratch,
                    GradIfRequired(_input), writeLoss: false, overwriteInput: false, _shape);
            }
            else if (_unitInputGrad is not null)
            {
                // The forward computed the input's gradient for this seed.
                if (_input.Grad is null && !_input.IsLeaf)
                    _input.BorrowGrad(_unitInputGrad);
                else
                    backend.Accumulate(_unitInputGrad, _input.GradOrZeros());
            }
            backend.HeadWeightGradients(_input, _hidden, _scratch, GradIfRequired(_firstWeight), GradIfRequired(_firstBias),
                GradIfRequired(_secondWeight), GradIfRequired(_secondBias), _shape);
        }
    }
}
