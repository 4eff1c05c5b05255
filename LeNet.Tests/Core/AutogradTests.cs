using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Functional;

namespace LeNet.Tests.Core;

public class AutogradTests
{
    private static Tensor RandomTensor(Random random, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var span = t.AsSpan();
        for (var i = 0; i < span.Length; i++) span[i] = (float)(random.NextDouble() * 2 - 1);
        return t;
    }

    private static Tensor Loss(Tensor input, Tensor weight, int[] labels) =>
        F.CrossEntropy(F.Linear(input, weight), labels);

    [Fact]
    public void Gradients_accumulate_across_backward_passes_until_zeroed()
    {
        var random = new Random(5);
        var input = RandomTensor(random, 4, 6);
        var weight = RandomTensor(random, 3, 6);
        weight.RequiresGrad = true;
        int[] labels = [0, 2, 1, 2];

        Loss(input, weight, labels).Backward();
        var once = weight.Grad!.ToArray();
        Assert.Contains(once, g => g != 0);
        Loss(input, weight, labels).Backward();
        var twice = weight.Grad!.ToArray();
        for (var i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 1e-6);

        weight.ZeroGrad();
        Assert.All(weight.Grad!.ToArray(), g => Assert.Equal(0f, g));
        Loss(input, weight, labels).Backward();
        Assert.Equal(once, weight.Grad!.ToArray());
    }

    [Fact]
    public void A_scalar_loss_seeds_backward_with_the_devices_constant_one_and_leaves_it_one()
    {
        var random = new Random(7);
        var input = RandomTensor(random, 4, 6);
        var weight = RandomTensor(random, 3, 6);
        weight.RequiresGrad = true;
        int[] labels = [1, 0, 2, 2];

        // A scalar loss: its node reads Device.Cpu.One. The same loss as a [1] tensor: a gradient buffer filled with 1.
        Loss(input, weight, labels).Backward();
        var fromConstant = weight.Grad!.ToArray();
        weight.ZeroGrad();
        Loss(input, weight, labels).Reshape(1).Backward();
        Assert.Equal(fromConstant, weight.Grad!.ToArray());
        Assert.Contains(fromConstant, g => g != 0);
        Assert.Equal(1f, Device.Cpu.One.Item());

        // A root that already holds a gradient (set by hand) keeps the buffer path: the seed adds 1 to it.
        weight.ZeroGrad();
        var loss = Loss(input, weight, labels);
        loss.Grad = Tensor.FromArray([2f]);
        loss.Backward();
        for (var i = 0; i < fromConstant.Length; i++)
            Assert.Equal(3 * fromConstant[i], weight.Grad!.ToArray()[i], 1e-6);
        Assert.Equal(1f, Device.Cpu.One.Item());
    }

    [Fact]
    public void A_tensor_used_twice_receives_the_sum_of_both_paths()
    {
        var random = new Random(6);
        var input = RandomTensor(random, 2, 5);
        var weight = RandomTensor(random, 5, 5);
        weight.RequiresGrad = true;
        int[] labels = [1, 4];
        float Loss() => F.CrossEntropy(F.Linear(F.Tanh(F.Linear(input, weight)), weight), labels).Item();

        // The weight feeds both Linear layers; its gradient must be the sum over the two uses.
        F.CrossEntropy(F.Linear(F.Tanh(F.Linear(input, weight)), weight), labels).Backward();
        var analytic = weight.Grad!.ToArray();

        // Finite differences in float: loose, but a lost branch changes the gradient by far more.
        var values = weight.AsSpan();
        for (var i = 0; i < values.Length; i++)
        {
            var saved = values[i];
            const float h = 1e-2f;
            values[i] = saved + h;
            float up;
            using (GradientTape.NoGrad()) up = Loss();
            values[i] = saved - h;
            float down;
            using (GradientTape.NoGrad()) down = Loss();
            values[i] = saved;
            Assert.Equal((up - down) / (2 * h), analytic[i], 2e-3);
        }
    }

    [Fact]
    public void NoGrad_records_nothing_and_nests()
    {
        var weight = Tensor.Full(0.5f, 2, 3);
        weight.RequiresGrad = true;
        var input = Tensor.Full(1f, 1, 3);
        using (GradientTape.NoGrad())
        {
            using (GradientTape.NoGrad()) Assert.False(GradientTape.IsEnabled);
            Assert.False(GradientTape.IsEnabled);
            var output = F.Linear(input, weight);
            Assert.False(output.RequiresGrad);
            Assert.True(output.IsLeaf);
        }
        Assert.True(GradientTape.IsEnabled);
        Assert.True(F.Linear(input, weight).RequiresGrad);
    }

    [Fact]
    public void Backward_refuses_non_scalars_and_untracked_tensors_with_a_clear_message()
    {
        var weight = Tensor.Full(0.5f, 2, 3);
        weight.RequiresGrad = true;
        var output = F.Linear(Tensor.Full(1f, 1, 3), weight);
        Assert.Contains("scalar", Assert.Throws<InvalidOperationException>(output.Backward).Message);
        Assert.Contains("does not require a gradient",
            Assert.Throws<InvalidOperationException>(() => Tensor.Scalar(1f).Backward()).Message);
    }

    [Fact]
    public void Reshape_shares_storage_and_passes_gradients_through()
    {
        var random = new Random(8);
        var input = RandomTensor(random, 2, 3, 2, 2);
        input.RequiresGrad = true;
        var flat = input.Reshape(2, -1);
        Assert.Equal([2, 12], flat.Shape.ToArray());
        flat.AsSpan()[5] = 42f;
        Assert.Equal(42f, input.AsSpan()[5]);
        var weight = RandomTensor(random, 4, 12);
        F.CrossEntropy(F.Linear(flat, weight), [3, 0]).Backward();
        Assert.Equal([2, 3, 2, 2], input.Grad!.Shape.ToArray());
        Assert.Contains(input.Grad.ToArray(), g => g != 0);
        Assert.Throws<ArgumentException>(() => input.Reshape(5, -1));
    }

    [Fact]
    public void Shape_mismatches_are_reported_in_words()
    {
        var input = Tensor.Zeros(2, 3, 8, 8);
        var message = Assert.Throws<ArgumentException>(() => F.Conv2d(input, Tensor.Zeros(4, 2, 3, 3))).Message;
        Assert.Contains("expects 2 input channels, but the input has 3", message);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Tensor.Zeros(2, 10), [1, 10]));
    }
}
