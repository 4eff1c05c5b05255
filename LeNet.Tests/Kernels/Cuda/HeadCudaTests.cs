using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using static LeNet.Tests.Kernels.Cuda.DeviceData;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// The classifier head fused with its loss (Linear, ReLU, Linear, softmax cross-entropy) against Reference's ops in
/// turn.
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class HeadCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    /// <summary>
    /// More rows than a group has threads, outputs that are not multiples of the tile, a depth over a slab, and
    /// LeNet-5's head.
    /// </summary>
    private static readonly HeadShape[] Shapes = [new(37, 19, 13, 10), new(5, 40, 33, 7), new(64, 120, 84, 10)];

    /// <summary>What Reference computes for a head, in double.</summary>
    private sealed record Expected(double[] Hidden, double[] Losses, double Mean, double[] LogitsGrad,
        double[] HiddenGrad, double[] InputGrad, double[] FirstWeightGrad, double[] FirstBiasGrad,
        double[] SecondWeightGrad, double[] SecondBiasGrad);

    private static Expected Reference(HeadShape shape, double[] x, double[] w1, double[] b1, double[] w2, double[] b2,
        int[] labels, double lossGrad)
    {
        var (n, c) = (shape.Batch, shape.Classes);
        var preActivation = new double[shape.HiddenLength];
        Ref.Linear.Forward<double>(x, w1, b1, preActivation, shape.First);
        var hidden = new double[shape.HiddenLength];
        Ref.ReLU.Forward<double>(preActivation, hidden);
        var logits = new double[n * c];
        Ref.Linear.Forward<double>(hidden, w2, b2, logits, shape.Second);
        var probabilities = new double[n * c];
        double mean = Ref.SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, n, c);
        var losses = Enumerable.Range(0, n).Select(r =>
            Ref.SoftmaxCrossEntropy.Forward<double>(logits.AsSpan(r * c, c), labels.AsSpan(r, 1), new double[c], 1, c))
                .ToArray();
        var logitsGrad = new double[n * c];
        Ref.SoftmaxCrossEntropy.Backward<double>(probabilities, labels, lossGrad, logitsGrad, n, c);
        var hiddenOutputGrad = new double[shape.HiddenLength];
        Ref.Linear.BackwardInput<double>(logitsGrad, w2, hiddenOutputGrad, shape.Second);
        var hiddenGrad = new double[shape.HiddenLength];
        Ref.ReLU.Backward<double>(preActivation, hiddenOutputGrad, hiddenGrad);
        var inputGrad = new double[shape.InputLength];
        Ref.Linear.BackwardInput<double>(hiddenGrad, w1, inputGrad, shape.First);
        var (w1Grad, b1Grad) = (new double[w1.Length], new double[shape.Hidden]);
        Ref.Linear.BackwardWeight<double>(x, hiddenGrad, w1Grad, shape.First);
        Ref.Linear.BackwardBias<double>(hiddenGrad, b1Grad, shape.First);
        var (w2Grad, b2Grad) = (new double[w2.Length], new double[c]);
        Ref.Linear.BackwardWeight<double>(hidden, logitsGrad, w2Grad, shape.Second);
        Ref.Linear.BackwardBias<double>(logitsGrad, b2Grad, shape.Second);
        return new Expected(hidden, losses, mean, logitsGrad, hiddenGrad, inputGrad, w1Grad, b1Grad, w2Grad, b2Grad);
    }

    /// <summary>A head's input, parameters and labels, drawn at random, on the host and on the device.</summary>
    private sealed class DeviceHead : IDisposable
    {
        public readonly HeadShape Shape;
        public readonly double[] X, W1, B1, W2, B2;
        public readonly int[] Labels;
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _x, _w1, _b1, _w2, _b2;
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;

        public DeviceHead(CudaKernels kernels, Random rng, HeadShape shape, int[]? labels = null)
        {
            Shape = shape;
            (X, W1, B1) = (Uniform(rng, shape.InputLength), Uniform(rng, shape.First.WeightLength, -0.5, 0.5),
                Uniform(rng, shape.Hidden, -0.2, 0.2));
            (W2, B2) = (Uniform(rng, shape.Second.WeightLength), Uniform(rng, shape.Classes));
            Labels = labels ?? Enumerable.Range(0, shape.Batch).Select(_ => rng.Next(shape.Classes)).ToArray();
            (_x, _w1, _b1, _w2, _b2, _labels) = (kernels.Upload(X), kernels.Upload(W1), kernels.Upload(B1),
                kernels.Upload(W2), kernels.Upload(B2), kernels.Upload(Labels));
        }

        public ArrayView<float> Input => _x.View;

        public Expected Reference(double lossGrad) =>
            HeadCudaTests.Reference(Shape, X, W1, B1, W2, B2, Labels, lossGrad);

        /// <summary>
        /// <see cref="CudaKernels.HeadForwardBackward"/> on this head's input, parameters and labels.
        /// </summary>
        public void Rows(CudaKernels kernels, ArrayView<float> lossGrad, ArrayView<float> hidden, ArrayView<float> loss,
            ArrayView<float> scratch, ArrayView<float> inputGrad, bool accumulateInput = true, bool writeLoss = true) =>
            kernels.HeadForwardBackward(_x.View, _w1.View, _b1.View, _w2.View, _b2.View, _labels.View, lossGrad, hidden,
                loss, scratch, inputGrad, Shape, accumulateInput, writeLoss);

        public void Dispose()
        {
            foreach (var buffer in new IDisposable[] { _x, _w1, _b1, _w2, _b2, _labels })
                buffer.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ForwardBackwardAndWeightGradientsMatchReference(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(49_000);
        foreach (var shape in Shapes)
        {
            using var head = new DeviceHead(kernels, rng, shape);
            const double lossGrad = 0.7;
            var expected = head.Reference(lossGrad);
            using var lossGradBuffer = kernels.Upload([lossGrad]);
            using var hidden = kernels.Upload(Uniform(rng, shape.HiddenLength));
            using var loss = kernels.Zeros(1);
            using var scratch = kernels.Upload(Uniform(rng, shape.ScratchLength));
            var inputPrefill = Uniform(rng, shape.InputLength);
            using var inputGrad = kernels.Upload(inputPrefill);
            var what = $"head {shape}";
            // Twice: the count of finished groups must be back at zero for the second launch's mean.
            for (int launch = 0; launch < 2; launch++)
            {
                if (launch == 1)
                {
                    inputGrad.View.CopyFromCPU(inputPrefill.Select(v => (float)v).ToArray());
                    loss.View.MemSetToZero(kernels.Stream);
                }
                head.Rows(kernels, lossGradBuffer.View, hidden.View, loss.View, scratch.View, inputGrad.View);
                AssertAgrees(expected.Hidden, kernels.Download(hidden), what + ": hidden layer");
                AssertAgrees([expected.Mean], kernels.Download(loss), what + $": mean loss, launch {launch + 1}");
                var rows = kernels.Download(scratch);
                int pitch = shape.Classes + shape.Hidden;
                AssertAgrees(expected.Losses, rows[(shape.Batch * pitch)..], what + ": per-row losses");
                AssertAgrees(expected.LogitsGrad, Columns(rows, shape.Batch, pitch, 0, shape.Classes),
                    what + ": logits' gradient");
                AssertAgrees(expected.HiddenGrad, Columns(rows, shape.Batch, pitch, shape.Classes, shape.Hidden),
                    what + ": hidden layer's gradient");
                AssertAccumulated(inputPrefill, expected.InputGrad, kernels.Download(inputGrad),
                    what + ": input gradient");
            }

            var (w1Prefill, b1Prefill, w2Prefill, b2Prefill) = (Uniform(rng, head.W1.Length),
                Uniform(rng, shape.Hidden), Uniform(rng, head.W2.Length), Uniform(rng, shape.Classes));
            using var w1Grad = kernels.Upload(w1Prefill);
            using var b1Grad = kernels.Upload(b1Prefill);
            using var w2Grad = kernels.Upload(w2Prefill);
            using var b2Grad = kernels.Upload(b2Prefill);
            kernels.HeadWeightGradients(head.Input, hidden.View, scratch.View, w1Grad.View, b1Grad.View, w2Grad.View,
                b2Grad.View, shape);
            AssertAccumulated(w1Prefill, expected.FirstWeightGrad, kernels.Download(w1Grad),
                what + ": first weight's gradient");
            AssertAccumulated(b1Prefill, expected.FirstBiasGrad, kernels.Download(b1Grad),
                what + ": first bias's gradient");
            AssertAccumulated(w2Prefill, expected.SecondWeightGrad, kernels.Download(w2Grad),
                what + ": second weight's gradient");
            AssertAccumulated(b2Prefill, expected.SecondBiasGrad, kernels.Download(b2Grad),
                what + ": second bias's gradient");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void OverwritesTheInputGradientSkipsWhatIsNotAskedAndKeepsTheLossWhenTold(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(49_100);
        var shape = Shapes[0];
        using var head = new DeviceHead(kernels, rng, shape);
        var expected = head.Reference(1.0);
        using var one = kernels.Upload([1.0]);
        using var hidden = kernels.Zeros(shape.HiddenLength);
        using var loss = kernels.Upload([42.0]);
        using var scratch = kernels.Zeros(shape.ScratchLength);
        using var inputGrad = kernels.Upload(Enumerable.Repeat(double.NaN, shape.InputLength).ToArray());
        head.Rows(kernels, one.View, hidden.View, loss.View, scratch.View, inputGrad.View, accumulateInput: false,
            writeLoss: false);
        AssertAgrees(expected.InputGrad, kernels.Download(inputGrad), "input gradient overwriting NaN");
        Assert.Equal([42.0], kernels.Download(loss));

        // No input gradient asked: the row kernel leaves the buffer alone; weight gradients only for what is given.
        using var untouched = kernels.Upload(Enumerable.Repeat(3.0, shape.InputLength).ToArray());
        head.Rows(kernels, one.View, hidden.View, loss.View, scratch.View, default);
        AssertAgrees([expected.Mean], kernels.Download(loss), "mean loss");
        Assert.All(kernels.Download(untouched), v => Assert.Equal(3.0, v));
        using var b2Grad = kernels.Zeros(shape.Classes);
        using var w1Grad = kernels.Zeros(head.W1.Length);
        kernels.HeadWeightGradients(head.Input, hidden.View, scratch.View, w1Grad.View, default, default, b2Grad.View,
            shape);
        AssertAgrees(expected.FirstWeightGrad, kernels.Download(w1Grad), "first weight's gradient alone");
        AssertAgrees(expected.SecondBiasGrad, kernels.Download(b2Grad), "second bias's gradient alone");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ALabelOutsideTheClassesGivesANaNLoss(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(49_200);
        var shape = new HeadShape(6, 8, 5, 3);
        using var head = new DeviceHead(kernels, rng, shape, labels: [0, 1, 2, 3, 1, 0]); // 3 is outside the 3 classes
        using var one = kernels.Upload([1.0]);
        using var hidden = kernels.Zeros(shape.HiddenLength);
        using var loss = kernels.Zeros(1);
        using var scratch = kernels.Zeros(shape.ScratchLength);
        head.Rows(kernels, one.View, hidden.View, loss.View, scratch.View, default);
        Assert.True(double.IsNaN(kernels.Download(loss)[0]));
    }

    [Fact]
    public void AHeadThatDoesNotFitSharedMemoryIsRefused()
    {
        Assert.True(CudaKernels.HeadFits(new HeadShape(64, 120, 84, 10)));
        Assert.False(CudaKernels.HeadFits(new HeadShape(64, 400, 120, 84)));
        Assert.False(CudaKernels.HeadFits(new HeadShape(0, 120, 84, 10)));
    }

    private static double[] Columns(double[] rows, int count, int pitch, int first, int width) =>
        Enumerable.Range(0, count).SelectMany(r => rows.Skip(r * pitch + first).Take(width)).ToArray();
}
