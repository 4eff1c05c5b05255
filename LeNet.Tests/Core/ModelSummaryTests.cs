using System.Text.RegularExpressions;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;
using LeNet.Core.Modules;

namespace LeNet.Tests.Core;

// The model summary against counts worked out by hand with torchinfo's rules, and its shapes against real forwards.
public class ModelSummaryTests
{
    public static TheoryData<string> Variants => [.. ModelVariants.Names];

    [Theory]
    [MemberData(nameof(Variants))]
    public void Each_variants_totals_are_its_parameters_and_the_sum_of_its_layers(string name)
    {
        var model = ModelVariants.Create(name);
        var summary = ModelSummary.Of(model, 1, 32, 32);
        Assert.Equal(model.ParameterCount(), summary.TotalParameters);
        Assert.Equal(model.ParameterCount(), summary.TrainableParameters);
        var layers = summary.Rows.Where(r => r.IsLeaf).ToList();
        Assert.Equal(model.ParameterCount(), layers.Sum(r => r.Parameters));
        Assert.Equal(layers.Sum(r => r.MultAdds), summary.MultAdds);
        Assert.Equal([1, 1, 32, 32], summary.InputShape);
        Assert.Equal([1, 10], summary.Rows[0].OutputShape);
    }

    [Fact]
    public void LeNet5s_rows_are_torchinfos_shapes_and_counts()
    {
        var summary = ModelSummary.Of(new LeNet5(), 1, 32, 32);
        var rows = summary.Rows.Select(r =>
            $"{r.Depth} {r.Name} {r.Type} {Tensor.Format(r.OutputShape)} {r.Parameters} {r.MultAdds}");
        // Conv: (weight + bias) × output positions, 156 × 28·28 and 2,416 × 10·10; BatchNorm and Linear: weight +
        // bias once per image; ReLU and pooling: none.
        string[] expected =
        [
            "0  LeNet5 [1, 10] 61750 423082",
            "1 layer1 ConvBlock [1, 6, 14, 14] 168 122316",
            "2 layer1.0 Conv2d [1, 6, 28, 28] 156 122304",
            "2 layer1.1 BatchNorm2d [1, 6, 28, 28] 12 12",
            "2 layer1.2 ReLU [1, 6, 28, 28] 0 0",
            "2 layer1.3 MaxPool2d [1, 6, 14, 14] 0 0",
            "1 layer2 ConvBlock [1, 16, 5, 5] 2448 241632",
            "2 layer2.0 Conv2d [1, 16, 10, 10] 2416 241600",
            "2 layer2.1 BatchNorm2d [1, 16, 10, 10] 32 32",
            "2 layer2.2 ReLU [1, 16, 10, 10] 0 0",
            "2 layer2.3 MaxPool2d [1, 16, 5, 5] 0 0",
            "1 fc Linear [1, 120] 48120 48120",
            "1 relu ReLU [1, 120] 0 0",
            "1 fc1 Linear [1, 84] 10164 10164",
            "1 relu1 ReLU [1, 84] 0 0",
            "1 fc2 Linear [1, 10] 850 850",
        ];
        Assert.Equal(expected, rows);
    }

    [Fact]
    public void The_shapes_are_those_the_layers_compute()
    {
        var (table, lenet5) = (new LeNet5Table(seed: 1), new LeNet5(seed: 1));
        lenet5.Eval();
        using var noGrad = GradientTape.NoGrad();
        var input = Tensor.Zeros(1, 1, 32, 32);
        var actual = new List<string>();
        var x = input;
        foreach (var (sequence, prefix) in new[] { (table.Features, "features"), (table.Classifier, "classifier") })
            for (var i = 0; i < sequence.Layers.Count; i++)
            {
                x = sequence.Layers[i].Forward(x);
                actual.Add($"{prefix}.{i} {Tensor.Format(x.Shape)}");
            }
        var block1 = lenet5.Layer1.Forward(input);
        actual.Add($"layer1 {Tensor.Format(block1.Shape)}");
        actual.Add($"layer2 {Tensor.Format(lenet5.Layer2.Forward(block1).Shape)}");
        actual.Add($"LeNet5 {Tensor.Format(lenet5.Forward(input).Shape)}");

        var rows = ModelSummary.Of(table, 1, 32, 32).Rows.Where(r => r.IsLeaf)
            .Concat(ModelSummary.Of(lenet5, 1, 32, 32).Rows.Where(r => r.Depth == 1 && r.Type == "ConvBlock"))
            .Select(r => $"{r.Name} {Tensor.Format(r.OutputShape)}")
            .Append($"LeNet5 {Tensor.Format(ModelSummary.Of(lenet5, 1, 32, 32).Rows[0].OutputShape)}");
        Assert.Equal(actual, rows);
    }

    [Fact]
    public void The_table_has_torchinfos_totals_and_sizes()
    {
        var text = new StringWriter();
        ModelSummary.Of(new LeNet5(), 1, 32, 32).WriteTable(text);
        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Matches(@"^Layer \(type\) +Output Shape +Param # +Mult-Adds$", lines[1]);
        Assert.Matches(@"^LeNet5 +\[1, 10\] +-- +--$", lines[3]);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^    layer2\.0 \(Conv2d\) +\[1, 16, 10, 10\] +2,416 +241,600$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^  relu1 \(ReLU\) +\[1, 84\] +-- +--$"));
        // Input 1·32·32 floats; outputs of the layers with parameters (4,704·2 + 1,600·2 + 120 + 84 + 10 = 12,822
        // floats) twice; 61,750 parameters; 4 bytes each.
        string[] totals =
        [
            "Total params: 61,750", "Trainable params: 61,750", "Non-trainable params: 0", "Total mult-adds (M): 0.42",
            lines[0], "Input size (MB): 0.00", "Forward/backward pass size (MB): 0.10", "Params size (MB): 0.25",
            "Estimated Total Size (MB): 0.35", lines[0], "",
        ];
        Assert.Equal(totals, lines[^totals.Length..]);
        Assert.All(lines, l => Assert.InRange(l.Length, 0, lines[0].Length));
        Assert.Matches("^=+$", lines[0]);
    }

    [Fact]
    public void The_compact_lines_give_the_totals_and_each_part_with_parameters()
    {
        string[] expected =
        [
            "LeNet5: input [1, 32, 32], output [10], 61,750 parameters, 423,082 multiply-adds per image",
            "  layer1 ConvBlock [6, 14, 14] 168; layer2 ConvBlock [16, 5, 5] 2,448; fc Linear [120] 48,120",
            "  fc1 Linear [84] 10,164; fc2 Linear [10] 850",
        ];
        Assert.Equal(expected, ModelSummary.Of(new LeNet5(), 1, 32, 32).CompactLines());
        Assert.Equal(
            "  features Sequential [120] 50,692; classifier Sequential [10] 11,014",
            ModelSummary.Of(new LeNet1998(), 1, 32, 32).CompactLines()[1]);
    }

    [Fact]
    public void An_unknown_module_is_refused_by_name_rather_than_given_a_row()
    {
        var model = new Sequential(new Conv2d(1, 2, 3, new Random(0)), new PassThrough());
        var error = Assert.Throws<NotSupportedException>(() => ModelSummary.Of(model, 1, 8, 8));
        Assert.StartsWith("The model summary does not know how 1 (PassThrough) computes its output;", error.Message);

        var container = new Sequential(new Wrapper(new ReLU()));
        error = Assert.Throws<NotSupportedException>(() => ModelSummary.Of(container, 1, 8, 8));
        Assert.StartsWith("The model summary does not know how 0 (Wrapper) computes its output;", error.Message);
    }

    [Fact]
    public void An_input_a_layer_cannot_take_is_refused_with_the_layer()
    {
        // 28×28 leaves LeNet-5 16·4·4 = 256 values where fc reads 400.
        var error = Assert.Throws<ArgumentException>(() => ModelSummary.Of(new LeNet5(), 1, 28, 28));
        Assert.StartsWith(
            "fc (Linear) takes [N, 400] (or [N, ...] of 400 values), but its input here is [1, 16, 4, 4];",
            error.Message);
        error = Assert.Throws<ArgumentException>(() => ModelSummary.Of(new LeNet5(), 3, 32, 32));
        Assert.StartsWith("layer1.0 (Conv2d) takes [N, 1, H, W]", error.Message);
    }

    private sealed class PassThrough : Module
    {
        public override Tensor Forward(Tensor input) => input;
    }

    private sealed class Wrapper : Module
    {
        public Wrapper(Module inner) => RegisterModule("inner", inner);
        public override Tensor Forward(Tensor input) => NamedChildren().Single().Module.Forward(input);
    }
}
