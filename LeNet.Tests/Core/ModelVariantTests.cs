using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Modules;

namespace LeNet.Tests.Core;

public class ModelVariantTests
{
    [Theory]
    [InlineData("lenet5", 61_750)]
    // conv 1→6 (156) + conv 6→16 (2,416) + conv 16→120 (48,120) + fc 120→84 (10,164) + fc 84→10 (850).
    [InlineData("lenet5-table", 61_706)]
    [InlineData("lenet1998", 61_706)]
    public void Each_variant_has_its_parameter_count(string name, int expected)
    {
        var model = ModelVariants.Create(name);
        Assert.Equal(expected, model.ParameterCount());
        Assert.Equal(expected,
            model.NamedParameters().Sum(p => p.Tensor.Shape.ToArray().Aggregate(1, (a, b) => a * b)));
    }

    [Fact]
    public void The_table_variants_have_no_batchnorm_and_a_third_convolution_of_120_filters()
    {
        foreach (var name in new[] { LeNet5Table.ModelName, LeNet1998.ModelName })
        {
            var model = ModelVariants.Create(name);
            var state = model.StateDict().Select(e => $"{e.Name} {Tensor.Format(e.Tensor.Shape)}").ToArray();
            string[] expected =
            [
                "features.0.weight [6, 1, 5, 5]", "features.0.bias [6]",
                "features.3.weight [16, 6, 5, 5]", "features.3.bias [16]",
                "features.6.weight [120, 16, 5, 5]", "features.6.bias [120]",
                "classifier.0.weight [84, 120]", "classifier.0.bias [84]",
                "classifier.2.weight [10, 84]", "classifier.2.bias [10]",
            ];
            Assert.Equal(expected, state);
            Assert.Empty(model.NamedBuffers());
        }
    }

    [Fact]
    public void Lenet1998_uses_tanh_and_average_pooling_where_the_table_variant_uses_relu()
    {
        var table = new LeNet5Table(seed: 3);
        var paper = new LeNet1998(seed: 3);
        Assert.IsType<ReLU>(table.Features.Layers[1]);
        Assert.IsType<Tanh>(paper.Features.Layers[1]);
        Assert.IsType<AvgPool2d>(paper.Features.Layers[2]);
        Assert.IsType<Tanh>(paper.Classifier.Layers[1]);
        // The same seed draws the same weights in the same order, so only the activations tell them apart.
        Assert.Equal(table.StateDict().SelectMany(e => e.Tensor.ToArray()),
            paper.StateDict().SelectMany(e => e.Tensor.ToArray()));

        var input = Tensor.FromArray(
            Kernels.GradientCheck.Uniform(new Random(5), 2 * 32 * 32).Select(v => (float)v).ToArray(), 2, 1, 32, 32);
        var a = table.Forward(input);
        var b = paper.Forward(input);
        Assert.Equal([2, 10], a.Shape.ToArray());
        Assert.Equal([2, 10], b.Shape.ToArray());
        Assert.NotEqual(a.ToArray(), b.ToArray());

        // features = tanh(conv3(...)) lies in (−1, 1); the ReLU variant's is non-negative.
        var features = paper.Features.Forward(input).ToArray();
        Assert.All(features, v => Assert.InRange(v, -1f, 1f));
        Assert.Contains(features, v => v < 0);
        Assert.All(table.Features.Forward(input).ToArray(), v => Assert.True(v >= 0));
    }

    [Fact]
    public void An_unknown_variant_is_refused_with_the_list_of_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelVariants.Create("alexnet"));
        Assert.Contains("lenet5, lenet5-table, lenet1998", error.Message);
    }
}
