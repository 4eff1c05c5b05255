using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Tests.Kernels;

namespace LeNet.Tests.Core;

/// <summary>The whole LeNet-5 on the fast CPU kernels against the same model on the Reference kernels.</summary>
public class CpuBackendTests
{
    private static (Tensor Input, int[] Labels) Batch(Device device, int batch, int seed)
    {
        var random = new Random(seed);
        var pixels = GradientCheck.Uniform(random, batch * 32 * 32).Select(v => (float)(2 * v)).ToArray();
        return (Tensor.FromArray(device, pixels, batch, 1, 32, 32),
            Enumerable.Range(0, batch).Select(_ => random.Next(10)).ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual, string what, double tolerance = 1e-4)
    {
        var error = GradientCheck.RelativeError(expected.Select(v => (double)v).ToArray(),
            actual.Select(v => (double)v).ToArray());
        Assert.True(error < tolerance,
            $"{what}: the fast kernels differ from the Reference kernels by relative error {error:E3}.");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void Forward_loss_and_every_gradient_match_the_reference_path(int batch)
    {
        var fast = new LeNet5(seed: 21);
        var reference = new LeNet5(seed: 21);
        reference.To(Device.CpuReference);
        var (fastInput, labels) = Batch(Device.Cpu, batch, 22);
        var (referenceInput, _) = Batch(Device.CpuReference, batch, 22);

        var fastLogits = fast.Forward(fastInput);
        var referenceLogits = reference.Forward(referenceInput);
        AssertClose(referenceLogits.ToArray(), fastLogits.ToArray(), "logits");
        var fastLoss = F.CrossEntropy(fastLogits, labels);
        var referenceLoss = F.CrossEntropy(referenceLogits, labels);
        Assert.Equal(referenceLoss.Item(), fastLoss.Item(), 1e-4f);

        fastLoss.Backward();
        referenceLoss.Backward();
        var fastParameters = fast.NamedParameters().ToList();
        foreach (var (name, referenceParameter) in reference.NamedParameters())
        {
            var fastParameter = fastParameters.Single(p => p.Name == name).Tensor;
            // The convolution biases feed BatchNorm, which cancels them: their true gradient is zero, and both paths
            // give rounding noise around it that a relative error cannot compare.
            if (name is "layer1.0.bias" or "layer2.0.bias")
            {
                Assert.All(fastParameter.Grad!.ToArray(), g => Assert.InRange(g, -1e-5f, 1e-5f));
                continue;
            }
            AssertClose(referenceParameter.Grad!.ToArray(), fastParameter.Grad!.ToArray(), $"gradient of {name}");
        }
    }

    // SGD rather than Adam: BatchNorm cancels the convolution biases, so their gradient is rounding noise, which Adam
    // would normalise into steps of about lr in random directions on each path; SGD keeps such noise negligible.
    [Fact]
    public void Ten_training_steps_follow_the_reference_path()
    {
        var fast = new LeNet5(seed: 23);
        var reference = new LeNet5(seed: 23);
        reference.To(Device.CpuReference);
        var fastSgd = new Sgd(fast.Parameters(), 0.05f, momentum: 0.9f);
        var referenceSgd = new Sgd(reference.Parameters(), 0.05f, momentum: 0.9f);
        for (var step = 0; step < 10; step++)
        {
            var (fastInput, labels) = Batch(Device.Cpu, 64, 100 + step);
            var (referenceInput, _) = Batch(Device.CpuReference, 64, 100 + step);
            var fastLoss = Step(fast, fastSgd, fastInput, labels);
            var referenceLoss = Step(reference, referenceSgd, referenceInput, labels);
            Assert.True(Math.Abs(fastLoss - referenceLoss) < 1e-3 * Math.Max(1, Math.Abs(referenceLoss)),
                $"step {step}: loss {fastLoss} on the fast kernels, {referenceLoss} on the Reference kernels.");
        }
        foreach (var ((name, expected), (_, actual)) in reference.StateDict().Zip(fast.StateDict()))
            AssertClose(expected.ToArray(), actual.ToArray(), name, 1e-3);
    }

    [Fact]
    public void Two_runs_with_the_same_seed_give_bit_identical_weights()
    {
        float[][] Run()
        {
            var model = new LeNet5(seed: 24);
            var adam = new Adam(model.Parameters());
            var workspace = new Workspace();
            for (var step = 0; step < 5; step++)
            {
                var (input, labels) = Batch(Device.Cpu, 64, 200 + step);
                using var scope = workspace.Begin();
                Step(model, adam, input, labels);
            }
            return model.StateDict().Select(e => e.Tensor.ToArray()).ToArray();
        }

        var first = Run();
        var second = Run();
        for (var i = 0; i < first.Length; i++) Assert.Equal(first[i], second[i]);
    }

    private static float Step(LeNet5 model, Optimizer optimizer, Tensor input, int[] labels)
    {
        var loss = F.CrossEntropy(model.Forward(input), labels);
        optimizer.ZeroGrad();
        loss.Backward();
        optimizer.Step();
        return loss.Item();
    }
}
