using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Serialization;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Tests.Train;

namespace LeNet.Tests.Core;

/// <summary>
/// Evaluation on the CPU folds BatchNorm into the convolutions (F.ConvBlock's evaluation branch): the same predictions
/// as the unfused evaluation-mode forward (Conv2d, BatchNorm2d, ReLU, MaxPool2d as separate ops) on the whole MNIST
/// test set, logits equal up to rounding, and folded afresh after training changes the weights and running statistics.
/// </summary>
public class FoldedInferenceTests(ITestOutputHelper output)
{
    /// <summary>Largest |fused − unfused| logit allowed, relative to the largest |logit| of the batch.</summary>
    private const double LogitTolerance = 1e-5;

    private static Tensor UnfusedBlock(Tensor input, ConvBlock block)
    {
        var conv = F.Conv2d(input, block.Conv.Weight, block.Conv.Bias, block.Conv.Stride, block.Conv.Padding);
        var norm = F.BatchNorm2d(conv, block.Norm.Weight, block.Norm.Bias, block.Norm.RunningMean,
            block.Norm.RunningVar, training: false, block.Norm.Momentum, block.Norm.Eps);
        return F.MaxPool2d(F.ReLU(norm), block.Pool.KernelSize);
    }

    /// <summary>
    /// The evaluation-mode forward with every op of the blocks on its own: nothing folded, nothing fused.
    /// </summary>
    private static Tensor UnfusedForward(LeNet5 model, Tensor input)
    {
        var maps = UnfusedBlock(UnfusedBlock(input, model.Layer1), model.Layer2);
        var features = F.ReLU(F.Linear(maps.Reshape(maps.Size(0), -1), model.Fc.Weight, model.Fc.Bias));
        return F.Linear(F.ReLU(F.Linear(features, model.Fc1.Weight, model.Fc1.Bias)), model.Fc2.Weight, model.Fc2.Bias);
    }

    /// <summary>
    /// Largest |fused − unfused| over the batch relative to its largest |logit|, and whether the argmaxes agree.
    /// </summary>
    private static (double Difference, int Disagreements) Compare(float[] fused, float[] unfused, int classes)
    {
        double largest = unfused.Max(Math.Abs), difference = 0;
        int disagreements = 0;
        for (int i = 0; i < fused.Length; i++) difference = Math.Max(difference, Math.Abs(fused[i] - unfused[i]));
        for (int row = 0; row < fused.Length / classes; row++)
        {
            var f = fused.AsSpan(row * classes, classes);
            var u = unfused.AsSpan(row * classes, classes);
            if (f.IndexOf(Max(f)) != u.IndexOf(Max(u))) disagreements++;
        }
        return (difference / Math.Max(largest, 1e-30), disagreements);
    }

    private static float Max(ReadOnlySpan<float> values)
    {
        float max = values[0];
        foreach (var v in values) max = Math.Max(max, v);
        return max;
    }

    [Fact]
    public void A_trained_model_predicts_every_mnist_test_image_as_the_unfused_forward_does()
    {
        var (tensors, _) = SafeTensors.Load(TrainedModel.ModelFile);
        var model = new LeNet5();
        model.LoadStateDict(tensors);
        model.Eval();
        var test = MnistDataset.Load(MnistTestData.Directory, train: false, verifyChecksums: false);
        var workspace = new Workspace();
        double largestDifference = 0, largestAbsolute = 0;
        int disagreements = 0;
        using (GradientTape.NoGrad())
            for (int start = 0; start < test.Count; start += 64)
            {
                int count = Math.Min(64, test.Count - start);
                using var scope = workspace.Begin();
                var input = Tensor.FromArray(test.Images.AsSpan(start * test.ImageLength, count * test.ImageLength),
                    count, 1, 32, 32);
                var fused = model.Forward(input).ToArray();
                var unfused = UnfusedForward(model, input).ToArray();
                var (difference, disagree) = Compare(fused, unfused, 10);
                largestDifference = Math.Max(largestDifference, difference);
                largestAbsolute = Math.Max(largestAbsolute,
                    fused.Zip(unfused, (a, b) => (double)Math.Abs(a - b)).Max());
                disagreements += disagree;
            }
        output.WriteLine($"{test.Count} images: largest |fused − unfused| logit {largestAbsolute:E3} " +
            $"({largestDifference:E3} of the batch's largest |logit|); {disagreements} predictions differ.");
        Assert.Equal(0, disagreements);
        Assert.True(largestDifference < LogitTolerance, $"logits differ by {largestDifference:E3} of the largest.");
    }

    [Fact]
    public void Training_between_evaluations_is_seen_by_the_folded_weights()
    {
        var model = new LeNet5(seed: 31);
        var sgd = new Sgd(model.Parameters(), 0.05f, momentum: 0.9f);
        var random = new Random(32);
        Tensor Images(int count) => Tensor.FromArray(
            Enumerable.Range(0, count * 32 * 32).Select(_ => (float)(2 * random.NextDouble() - 1)).ToArray(),
            count, 1, 32, 32);
        var probe = Images(17);
        for (int round = 0; round < 3; round++)
        {
            // A few training steps: they change the weights and BatchNorm's running statistics.
            model.Train();
            for (int step = 0; step < 3; step++)
            {
                var loss = F.CrossEntropy(model.Forward(Images(32)),
                    Enumerable.Range(0, 32).Select(_ => random.Next(10)).ToArray());
                sgd.ZeroGrad();
                loss.Backward();
                sgd.Step();
            }
            model.Eval();
            using var noGrad = GradientTape.NoGrad();
            var fused = model.Forward(probe).ToArray();
            var unfused = UnfusedForward(model, probe).ToArray();
            var (difference, disagreements) = Compare(fused, unfused, 10);
            Assert.True(difference < LogitTolerance && disagreements == 0,
                $"round {round}: fused and unfused logits differ by {difference:E3} of the largest, " +
                    $"{disagreements} predictions.");
        }
    }
}
