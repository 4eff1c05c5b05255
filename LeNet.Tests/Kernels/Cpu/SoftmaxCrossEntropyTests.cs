using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using CpuKernels = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// Cpu softmax cross-entropy against the Reference kernel in double: loss, probabilities, accumulating backward.
/// </summary>
public class SoftmaxCrossEntropyTests
{
    public static TheoryData<int, int> Shapes() =>
        new() { { 1, 10 }, { 3, 10 }, { 64, 10 }, { 1000, 10 }, { 5, 1 }, { 7, 33 }, { 64, 17 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_and_accumulating_backward_agree_with_reference(int batch, int classes)
    {
        var rng = new Random(10_400 + batch * 7 + classes);
        var logits = UniformFloat(rng, batch * classes, -5, 5);
        var labels = Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
        var probabilities = new float[batch * classes];
        float loss = CpuKernels.SoftmaxCrossEntropy.Forward(logits, labels, probabilities, batch, classes);
        var expectedProbabilities = new double[batch * classes];
        double expectedLoss = Ref.SoftmaxCrossEntropy.Forward<double>(Exactly(logits), labels, expectedProbabilities,
            batch, classes);
        if (classes > 1) AssertAgrees(expectedLoss, loss, $"loss {batch}×{classes}");
        else Assert.Equal(0f, loss); // one class: the loss is exactly 0
        AssertAgrees(expectedProbabilities, probabilities, $"probabilities {batch}×{classes}");

        var logitsGrad = UniformFloat(rng, batch * classes);
        var expectedGrad = Exactly(logitsGrad);
        CpuKernels.SoftmaxCrossEntropy.Backward(probabilities, labels, 0.7f, logitsGrad, batch, classes);
        Ref.SoftmaxCrossEntropy.Backward<double>(Exactly(probabilities), labels, 0.7, expectedGrad, batch, classes);
        AssertAgrees(expectedGrad, logitsGrad, $"logits gradient {batch}×{classes}");
    }

    [Fact]
    public void Large_logits_neither_overflow_nor_lose_the_loss()
    {
        float[] logits = [1000, -1000, 0, 500, 88, 89, -200, 300, 300, -300];
        int[] labels = [1, 0];
        var probabilities = new float[10];
        float loss = CpuKernels.SoftmaxCrossEntropy.Forward(logits, labels, probabilities, 2, 5);
        var expected = new double[10];
        double expectedLoss = Ref.SoftmaxCrossEntropy.Forward<double>(Exactly(logits), labels, expected, 2, 5);
        Assert.True(float.IsFinite(loss));
        AssertAgrees(expectedLoss, loss, "loss at large logits");
        AssertAgrees(expected, probabilities, "probabilities at large logits");
    }

    [Fact]
    public void Labels_outside_the_classes_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            CpuKernels.SoftmaxCrossEntropy.Forward(new float[6], [0, 3], new float[6], 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            CpuKernels.SoftmaxCrossEntropy.Backward(new float[6], [-1, 0], 1, new float[6], 2, 3));
        Assert.Throws<ArgumentException>(() =>
            CpuKernels.SoftmaxCrossEntropy.Forward(new float[5], [0, 1], new float[6], 2, 3));
    }
}

/// <summary>
/// The TensorPrimitives softmax cross-entropy (a benchmark baseline) against the Reference kernel in double.
/// </summary>
public class PrimitivesSoftmaxCrossEntropyTests
{
    [Theory]
    [InlineData(1, 10)]
    [InlineData(64, 10)]
    [InlineData(1000, 10)]
    [InlineData(7, 33)]
    public void Forward_and_accumulating_backward_agree_with_reference(int batch, int classes)
    {
        var rng = new Random(11_300 + batch + classes);
        var logits = UniformFloat(rng, batch * classes, -5, 5);
        var labels = Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
        var probabilities = new float[batch * classes];
        float loss = LeNet.Benchmarks.Primitives.SoftmaxCrossEntropy.Forward(logits, labels, probabilities, batch,
            classes);
        var expected = new double[batch * classes];
        double expectedLoss = Ref.SoftmaxCrossEntropy.Forward<double>(Exactly(logits), labels, expected, batch,
            classes);
        AssertAgrees(expectedLoss, loss, "loss");
        AssertAgrees(expected, probabilities, "probabilities");
        var grad = UniformFloat(rng, batch * classes);
        var expectedGrad = Exactly(grad);
        LeNet.Benchmarks.Primitives.SoftmaxCrossEntropy.Backward(probabilities, labels, 1.3f, grad, batch, classes);
        Ref.SoftmaxCrossEntropy.Backward<double>(Exactly(probabilities), labels, 1.3, expectedGrad, batch, classes);
        AssertAgrees(expectedGrad, grad, "logits gradient");
    }
}
