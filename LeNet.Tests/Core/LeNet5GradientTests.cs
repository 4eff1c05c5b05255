using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Tests.Kernels;

namespace LeNet.Tests.Core;

/// <summary>
/// The whole LeNet-5 forward → loss: its backward against finite differences, and Core's autograd against it.
/// </summary>
public class LeNet5GradientTests
{
    private const int Batch = 3;

    private static (LeNet5 Model, double[] Input, int[] Labels) Setup(int seed)
    {
        var random = new Random(seed);
        var model = new LeNet5(seed: seed);
        // Give BatchNorm's γ and β values other than 1 and 0, so that their role in the gradient is exercised.
        foreach (var (name, tensor) in model.NamedParameters().Where(p => p.Name.Contains(".1.")))
        {
            var span = tensor.AsSpan();
            for (var i = 0; i < span.Length; i++)
                span[i] = (float)(name.EndsWith("weight") ? 0.5 + random.NextDouble() : random.NextDouble() - 0.5);
        }
        var input = GradientCheck.Uniform(random, Batch * 32 * 32).Select(v => (double)(float)v).ToArray();
        var labels = Enumerable.Range(0, Batch).Select(_ => random.Next(10)).ToArray();
        return (model, input, labels);
    }

    [Fact]
    public void Whole_model_backward_matches_finite_differences_in_double()
    {
        var (model, input, labels) = Setup(seed: 11);
        var net = new LeNet5InDouble(model, Batch);
        var (_, gradients, inputGrad) = net.LossAndGradients(input, labels);
        var random = new Random(12);

        foreach (var name in LeNet5InDouble.Trainable)
        {
            // Every element of the small tensors; a random sample of 24 from the large ones (finite differences
            // cost two forward passes per element).
            var values = net.Parameters[name];
            var indices = values.Length <= 32 ? Enumerable.Range(0, values.Length).ToArray()
                : Enumerable.Range(0, 24).Select(_ => random.Next(values.Length)).Distinct().ToArray();
            var numerical = indices.Select(i => GradientCheck.NumericalAt(values, i, () => net.Loss(input, labels)))
                .ToArray();
            var analytic = indices.Select(i => gradients[name][i]).ToArray();
            if (FeedsBatchNorm(name))
            {
                // BatchNorm subtracts the per-channel mean, so a convolution bias before it has no effect on the loss:
                // both gradients must vanish (up to rounding), which a relative error cannot measure.
                Assert.All(analytic, g => Assert.InRange(g, -1e-12, 1e-12));
                Assert.All(numerical, g => Assert.InRange(g, -1e-8, 1e-8));
                continue;
            }
            GradientCheck.AssertGradient(analytic, numerical, name);
        }

        var pixels = Enumerable.Range(0, 24).Select(_ => random.Next(input.Length)).Distinct().ToArray();
        GradientCheck.AssertGradient(pixels.Select(i => inputGrad[i]).ToArray(),
            pixels.Select(i => GradientCheck.NumericalAt(input, i, () => net.Loss(input, labels))).ToArray(), "input");
    }

    [Fact]
    public void Core_autograd_in_float_matches_the_double_oracle()
    {
        var (model, input, labels) = Setup(seed: 21);
        var (expectedLoss, expectedGradients, expectedInputGrad) = new LeNet5InDouble(model, Batch)
            .LossAndGradients(input, labels);

        var x = Tensor.FromArray(input.Select(v => (float)v).ToArray(), Batch, 1, 32, 32);
        x.RequiresGrad = true;
        var loss = F.CrossEntropy(model.Forward(x), labels);
        loss.Backward();

        Assert.Equal(expectedLoss, loss.Item(), 1e-4 * Math.Abs(expectedLoss));
        foreach (var (name, tensor) in model.NamedParameters())
        {
            var actual = tensor.Grad!.ToArray().Select(v => (double)v).ToArray();
            if (FeedsBatchNorm(name))
            {
                Assert.All(actual, g => Assert.InRange(g, -1e-6, 1e-6));
                continue;
            }
            var error = GradientCheck.RelativeError(actual, expectedGradients[name]);
            Assert.True(error < 1e-4, $"{name}: Core's float gradient differs from the double oracle by {error:E2}.");
        }
        var inputError = GradientCheck.RelativeError(x.Grad!.ToArray().Select(v => (double)v).ToArray(),
            expectedInputGrad);
        Assert.True(inputError < 1e-4,
            $"input: Core's float gradient differs from the double oracle by {inputError:E2}.");
    }

    private static bool FeedsBatchNorm(string parameter) => parameter is "layer1.0.bias" or "layer2.0.bias";
}
