using LeNet.Core;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Tests.Kernels;

namespace LeNet.Tests.Core;

/// <summary>
/// Module.CrossEntropyLoss on the CPU: the model's forward, then the loss, exactly (the fused head is a GPU path,
/// tested in GpuBackendTests).
/// </summary>
public class HeadLossTests
{
    [Theory]
    [InlineData(LeNet5.ModelName)]
    [InlineData(LeNet1998.ModelName)]
    public void A_models_own_cross_entropy_loss_is_its_forward_then_cross_entropy_bit_for_bit(string modelName)
    {
        // A model without a head of its own computes Module's loss, forward then cross entropy: the expected value.
        var declaring = ModelVariants.Create(modelName).GetType()
            .GetMethod(nameof(Module.CrossEntropyLoss), [typeof(Tensor), typeof(Indices)])!.DeclaringType;
        if (declaring == typeof(Module))
            Assert.Skip($"{modelName} has no loss of its own (Module.CrossEntropyLoss) to compare with it");
        var random = new Random(46);
        var pixels = GradientCheck.Uniform(random, 3 * 32 * 32).Select(v => (float)v).ToArray();
        int[] labels = [4, 0, 9];
        var (model, reference) = (ModelVariants.Create(modelName, seed: 5), ModelVariants.Create(modelName, seed: 5));
        var loss = model.CrossEntropyLoss(Tensor.FromArray(pixels, 3, 1, 32, 32), new Indices(labels));
        var expected = F.CrossEntropy(reference.Forward(Tensor.FromArray(pixels, 3, 1, 32, 32)), labels);
        loss.Backward();
        expected.Backward();
        Assert.Equal(expected.Item(), loss.Item());
        foreach (var ((name, want), (_, got)) in reference.NamedParameters().Zip(model.NamedParameters()))
            Assert.True(want.Grad!.ToArray().SequenceEqual(got.Grad!.ToArray()), $"gradient of {name}");
    }
}
