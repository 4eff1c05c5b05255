using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Modules;

namespace LeNet.Tests.Core;

public class ModuleTests
{
    [Fact]
    public void LeNet5_has_the_seed_models_parameter_counts()
    {
        var model = new LeNet5();
        Assert.Equal(61_750, model.ParameterCount());
        var outsideBatchNorm = model.NamedParameters().Where(p => !IsBatchNorm(model, p.Name))
            .Sum(p => p.Tensor.Length);
        Assert.Equal(61_706, outsideBatchNorm);
    }

    [Fact]
    public void LeNet5_state_dict_names_and_shapes_match_the_pytorch_module()
    {
        var state = new LeNet5().StateDict().Select(e => $"{e.Name} {Tensor.Format(e.Tensor.Shape)}").ToArray();
        string[] expected =
        [
            "layer1.0.weight [6, 1, 5, 5]", "layer1.0.bias [6]",
            "layer1.1.weight [6]", "layer1.1.bias [6]", "layer1.1.running_mean [6]", "layer1.1.running_var [6]",
            "layer2.0.weight [16, 6, 5, 5]", "layer2.0.bias [16]",
            "layer2.1.weight [16]", "layer2.1.bias [16]", "layer2.1.running_mean [16]", "layer2.1.running_var [16]",
            "fc.weight [120, 400]", "fc.bias [120]", "fc1.weight [84, 120]", "fc1.bias [84]",
            "fc2.weight [10, 84]", "fc2.bias [10]",
        ];
        Assert.Equal(expected, state);
    }

    [Fact]
    public void Initialisation_is_pytorchs_default_and_deterministic_per_seed()
    {
        var a = new LeNet5(seed: 7);
        var b = new LeNet5(seed: 7);
        var c = new LeNet5(seed: 8);
        Assert.Equal(a.Fc.Weight.ToArray(), b.Fc.Weight.ToArray());
        Assert.NotEqual(a.Fc.Weight.ToArray(), c.Fc.Weight.ToArray());

        // Kaiming-uniform with a = √5 and the bias rule both give U(−1/√fan_in, 1/√fan_in).
        foreach (var (layer, fanIn) in new (Module, int)[] { (a.Layer1.Layers[0], 25), (a.Layer2.Layers[0], 150),
            (a.Fc, 400), (a.Fc1, 120), (a.Fc2, 84) })
        {
            var bound = 1 / MathF.Sqrt(fanIn);
            foreach (var (name, tensor) in layer.NamedParameters())
            {
                var values = tensor.ToArray();
                Assert.All(values, v => Assert.InRange(v, -bound, bound));
                if (values.Length >= 100)
                {
                    // A uniform draw fills its range: the extremes come close to the bound and the mean is near 0.
                    Assert.True(values.Max() > 0.9f * bound && values.Min() < -0.9f * bound,
                        $"{name} does not span ±{bound}");
                    Assert.InRange(values.Average(), -0.1 * bound, 0.1 * bound);
                }
            }
        }
        var batchNorm = (BatchNorm2d)a.Layer1.Layers[1];
        Assert.All(batchNorm.Weight.ToArray(), v => Assert.Equal(1f, v));
        Assert.All(batchNorm.Bias.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(batchNorm.RunningVar.ToArray(), v => Assert.Equal(1f, v));
        Assert.Equal(0.1f, batchNorm.Momentum);
        Assert.Equal(1e-5f, batchNorm.Eps);
    }

    [Fact]
    public void Train_and_eval_propagate_to_every_submodule()
    {
        var model = new LeNet5();
        Assert.True(model.Layer2.Layers[1].Training);
        model.Eval();
        Assert.All(new Module[] { model, model.Layer1, model.Layer1.Layers[1], model.Layer2.Layers[1], model.Fc2 }, m =>
            Assert.False(m.Training));
        model.Train();
        Assert.True(model.Layer2.Layers[1].Training);
    }

    [Fact]
    public void BatchNorm_module_uses_batch_statistics_in_training_and_running_statistics_in_eval()
    {
        var random = new Random(3);
        var batchNorm = new BatchNorm2d(3);
        var input = Tensor.FromArray(
            Enumerable.Range(0, 4 * 3 * 5 * 5).Select(_ => (float)(random.NextDouble() * 4 + 2)).ToArray(), 4, 3, 5, 5);

        var trained = batchNorm.Forward(input).ToArray();
        // Training output is normalised per channel with the batch's own statistics.
        for (var c = 0; c < 3; c++)
        {
            var channel = ChannelValues(trained, 4, 3, 25, c);
            Assert.InRange(channel.Average(), -1e-5, 1e-5);
            Assert.InRange(channel.Select(v => v * v).Average(), 1 - 1e-3, 1 + 1e-3);
        }
        // Running statistics moved 10 % of the way from (0, 1) towards the batch's mean and unbiased variance.
        var values = input.ToArray();
        for (var c = 0; c < 3; c++)
        {
            var channel = ChannelValues(values, 4, 3, 25, c);
            var mean = channel.Average();
            var unbiased = channel.Sum(v => (v - mean) * (v - mean)) / (channel.Length - 1);
            Assert.Equal(0.1 * mean, batchNorm.RunningMean.AsSpan()[c], 1e-5);
            Assert.Equal(0.9 + 0.1 * unbiased, batchNorm.RunningVar.AsSpan()[c], 1e-5);
        }

        batchNorm.Eval();
        var evaluated = batchNorm.Forward(input).ToArray();
        var runningMeanBefore = batchNorm.RunningMean.ToArray();
        for (var i = 0; i < values.Length; i++)
        {
            var c = i / 25 % 3;
            var expected = (values[i] - batchNorm.RunningMean.AsSpan()[c])
                / MathF.Sqrt(batchNorm.RunningVar.AsSpan()[c] + 1e-5f);
            Assert.Equal(expected, evaluated[i], 1e-4);
        }
        Assert.Equal(runningMeanBefore, batchNorm.RunningMean.ToArray());
    }

    [Fact]
    public void LoadStateDict_round_trips_and_refuses_mismatches_without_changing_anything()
    {
        var source = new LeNet5(seed: 1);
        var target = new LeNet5(seed: 2);
        var state = source.StateDict().ToDictionary(e => e.Name, e => (e.Tensor.Shape.ToArray(), e.Tensor.ToArray()));
        target.LoadStateDict(state);
        Assert.Equal(source.Fc1.Weight.ToArray(), target.Fc1.Weight.ToArray());

        var fresh = new LeNet5(seed: 3);
        var before = fresh.Fc.Weight.ToArray();
        var missing = new Dictionary<string, (int[], float[])>(state);
        missing.Remove("fc2.bias");
        Assert.Contains("missing fc2.bias",
            Assert.Throws<ArgumentException>(() => fresh.LoadStateDict(missing)).Message);
        var wrongShape = new Dictionary<string, (int[], float[])>(state) { ["fc2.bias"] = ([5], new float[5]) };
        Assert.Contains("fc2.bias", Assert.Throws<ArgumentException>(() => fresh.LoadStateDict(wrongShape)).Message);
        Assert.Equal(before, fresh.Fc.Weight.ToArray());
    }

    private static bool IsBatchNorm(LeNet5 model, string parameterName) =>
        parameterName.StartsWith("layer1.1.", StringComparison.Ordinal)
            || parameterName.StartsWith("layer2.1.", StringComparison.Ordinal);

    private static double[] ChannelValues(float[] values, int batch, int channels, int spatial, int channel) =>
        Enumerable.Range(0, batch).SelectMany(n => values.Skip((n * channels + channel) * spatial).Take(spatial))
            .Select(v => (double)v).ToArray();
}
