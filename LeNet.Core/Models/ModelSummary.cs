using System.Globalization;
using LeNet.Core.Modules;
using LeNet.Kernels;

namespace LeNet.Core.Models;

// A torchinfo-style summary of a model for one input: each module's output shape, parameters and multiply-adds,
// worked out from the module tree, printed as torchinfo's table or as a few lines for the start of a training log.

/// <summary>
/// What <c>torchinfo.summary(model, (1, *inputShape))</c> reports, computed from the module tree rather than by a
/// forward pass: LeNet5's forward runs fused operations that never call its inner modules, so hooks on a run would see
/// only part of it. Multiply-adds follow torchinfo's rule: every weight and bias element counts once per output
/// position for a convolution (batch × height × width) and once per image for any other layer.
/// </summary>
public sealed class ModelSummary
{
    /// <summary>
    /// One module, parents before their children as torchinfo lists them. Name is the PyTorch module path
    /// ("layer1.0"; "" for the model itself); Parameters and MultAdds are of the module and all below it.
    /// </summary>
    public sealed record Row(int Depth, string Name, string Type, int[] OutputShape, long Parameters, long MultAdds,
        bool IsLeaf);

    private const int BytesPerValue = sizeof(float);

    private ModelSummary(IReadOnlyList<Row> rows, int[] inputShape, long trainable)
    {
        Rows = rows;
        InputShape = inputShape;
        TrainableParameters = trainable;
    }

    public IReadOnlyList<Row> Rows { get; }
    /// <summary>The input with its batch of 1: [1, 1, 32, 32] for LeNet.</summary>
    public int[] InputShape { get; }
    public long TotalParameters => Rows[0].Parameters;
    public long TrainableParameters { get; }
    /// <summary>For a batch of one image.</summary>
    public long MultAdds => Rows[0].MultAdds;
    public double InputMegabytes => Megabytes(Length(InputShape));
    /// <summary>torchinfo's estimate: the outputs of the layers with parameters, twice (values, gradients).</summary>
    public double ForwardBackwardMegabytes =>
        Megabytes(2 * Rows.Where(r => r.IsLeaf && r.Parameters > 0).Sum(r => Length(r.OutputShape)));
    public double ParametersMegabytes => Megabytes(TotalParameters);
    public double TotalMegabytes => InputMegabytes + ForwardBackwardMegabytes + ParametersMegabytes;

    /// <summary>
    /// Summarises <paramref name="model"/> for one input of <paramref name="inputShape"/> (without the batch, e.g. 1,
    /// 32, 32). A module type it does not know, or an input a layer cannot take, is refused with the module's name.
    /// </summary>
    public static ModelSummary Of(Module model, params int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (inputShape.Length == 0 || inputShape.Any(d => d < 1))
            throw new ArgumentException(
                $"The input shape {Tensor.Format(inputShape)} needs at least one dimension, each at least 1.",
                nameof(inputShape));
        var rows = new List<Row>();
        int[] input = [1, .. inputShape];
        Visit(model, "", 0, input, rows);
        var trainable = model.Parameters().Where(p => p.RequiresGrad).Sum(p => (long)p.Length);
        return new ModelSummary(rows, input, trainable);
    }

    /// <summary>The table torchinfo prints (ASCII rules, invariant numbers), then the totals and the sizes.</summary>
    public void WriteTable(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var labels = Rows.Select(r => r.Depth == 0 ? r.Type : $"{new string(' ', 2 * r.Depth)}{r.Name} ({r.Type})")
            .ToList();
        var nameWidth = Math.Max(labels.Max(l => l.Length), "Layer (type)".Length) + 2;
        var shapeWidth = Math.Max(Rows.Max(r => Tensor.Format(r.OutputShape).Length), "Output Shape".Length) + 2;
        const int numberWidth = 14;
        var rule = new string('=', nameWidth + shapeWidth + 2 * numberWidth);
        output.WriteLine(rule);
        output.WriteLine(
            $"{"Layer (type)".PadRight(nameWidth)}{"Output Shape".PadRight(shapeWidth)}{"Param #",numberWidth}" +
            $"{"Mult-Adds",numberWidth}");
        output.WriteLine(rule);
        for (var i = 0; i < Rows.Count; i++)
        {
            // A parent's counts are its children's, so only the layers themselves show numbers, as torchinfo does.
            var row = Rows[i];
            output.WriteLine(
                $"{labels[i].PadRight(nameWidth)}{Tensor.Format(row.OutputShape).PadRight(shapeWidth)}" +
                $"{Count(row.IsLeaf ? row.Parameters : 0),numberWidth}" +
                $"{Count(row.IsLeaf ? row.MultAdds : 0),numberWidth}");
        }
        output.WriteLine(rule);
        output.WriteLine($"Total params: {Thousands(TotalParameters)}");
        output.WriteLine($"Trainable params: {Thousands(TrainableParameters)}");
        output.WriteLine($"Non-trainable params: {Thousands(TotalParameters - TrainableParameters)}");
        var (unit, scaled) = MultAdds >= 1e12 ? ("T", MultAdds / 1e12) : MultAdds >= 1e9 ? ("G", MultAdds / 1e9)
            : ("M", MultAdds / 1e6);
        output.WriteLine($"Total mult-adds ({unit}): {Fixed(scaled)}");
        output.WriteLine(rule);
        output.WriteLine($"Input size (MB): {Fixed(InputMegabytes)}");
        output.WriteLine($"Forward/backward pass size (MB): {Fixed(ForwardBackwardMegabytes)}");
        output.WriteLine($"Params size (MB): {Fixed(ParametersMegabytes)}");
        output.WriteLine($"Estimated Total Size (MB): {Fixed(TotalMegabytes)}");
        output.WriteLine(rule);
    }

    /// <summary>
    /// A few lines for the start of a training log: the totals, then each top-level part that has parameters with its
    /// output shape (without the batch), wrapped at 100 columns.
    /// </summary>
    public IReadOnlyList<string> CompactLines()
    {
        const int width = 100;
        var model = Rows[0];
        var lines = new List<string>
        {
            $"{model.Type}: input {Tensor.Format(InputShape[1..])}, output {Tensor.Format(model.OutputShape[1..])}, " +
            $"{Thousands(TotalParameters)} parameters, {Thousands(MultAdds)} multiply-adds per image",
        };
        var line = "";
        foreach (var part in Rows.Where(r => r.Depth == 1 && r.Parameters > 0))
        {
            var text = $"{part.Name} {part.Type} {Tensor.Format(part.OutputShape[1..])} {Thousands(part.Parameters)}";
            if (line.Length > 0 && line.Length + 2 + text.Length > width)
            {
                lines.Add(line);
                line = "";
            }
            line = line.Length == 0 ? "  " + text : $"{line}; {text}";
        }
        if (line.Length > 0) lines.Add(line);
        return lines;
    }

    // Appends the row of module and those below it (parent first); returns the module's output shape.
    private static int[] Visit(Module module, string name, int depth, int[] input, List<Row> rows)
    {
        var first = rows.Count;
        var children = module.NamedChildren().ToList();
        int[] output;
        long multAdds;
        if (children.Count == 0)
        {
            output = LeafOutput(module, name, input);
            // torchinfo: each weight and bias element once per output position of a convolution, once per image else.
            var uses = module is Conv2d ? (long)output[0] * output[2] * output[3] : output[0];
            multAdds = uses * module.ParameterCount();
        }
        else if (module is Sequential or ConvBlock or LeNet5 or AveragePoolingLeNet)
        {
            // These apply their children in the order they registered them (LeNet5 flattening before fc).
            output = input;
            foreach (var (childName, child) in children)
                output = Visit(child, name.Length == 0 ? childName : $"{name}.{childName}", depth + 1, output, rows);
            multAdds = rows.Skip(first).Where(r => r.IsLeaf).Sum(r => r.MultAdds);
        }
        else throw Unknown(module, name);
        rows.Insert(first, new Row(depth, name, module.GetType().Name, output, module.ParameterCount(), multAdds,
            children.Count == 0));
        return output;
    }

    private static int[] LeafOutput(Module module, string name, int[] input)
    {
        switch (module)
        {
            case Conv2d conv:
                var weight = conv.Weight.Shape;
                Expect(input.Length == 4 && input[1] == weight[1] && input[2] + 2 * conv.Padding >= weight[2]
                    && input[3] + 2 * conv.Padding >= weight[3], module, name, input,
                    $"[N, {weight[1]}, H, W] with H and W at least {weight[2]}");
                var c = new ConvShape(input[0], input[1], input[2], input[3], weight[0], weight[2], weight[3],
                    conv.Stride, conv.Padding);
                return [c.Batch, c.OutChannels, c.OutHeight, c.OutWidth];
            case BatchNorm2d norm:
                Expect(input.Length == 4 && input[1] == norm.Weight.Length, module, name, input,
                    $"[N, {norm.Weight.Length}, H, W]");
                return input;
            case Linear linear:
                // A Linear given [N, C, H, W] reads it flattened, as LeNet5 reshapes before fc.
                var features = linear.Weight.Shape[1];
                Expect(Length(input[1..]) == features, module, name, input,
                    $"[N, {features}] (or [N, ...] of {features} values)");
                return [input[0], linear.Weight.Shape[0]];
            case ReLU or Tanh or Sigmoid:
                return input;
            case MaxPool2d max:
                return Pooled(module, name, input, max.KernelSize, max.Stride);
            case AvgPool2d average:
                return Pooled(module, name, input, average.KernelSize, average.Stride);
            case Flatten:
                Expect(input.Length >= 2, module, name, input, "[N, ...]");
                return [input[0], checked((int)Length(input[1..]))];
            default:
                throw Unknown(module, name);
        }
    }

    private static int[] Pooled(Module module, string name, int[] input, int kernel, int stride)
    {
        Expect(input.Length == 4 && input[2] >= kernel && input[3] >= kernel, module, name, input,
            $"[N, C, H, W] with H and W at least {kernel}");
        var p = new PoolShape(input[0], input[1], input[2], input[3], kernel, stride);
        return [p.Batch, p.Channels, p.OutHeight, p.OutWidth];
    }

    private static void Expect(bool fits, Module module, string name, int[] input, string expected)
    {
        if (!fits)
            throw new ArgumentException(
                $"{Label(module, name)} takes {expected}, but its input here is {Tensor.Format(input)}; check the " +
                "input shape given to the summary.");
    }

    private static NotSupportedException Unknown(Module module, string name) => new(
        $"The model summary does not know how {Label(module, name)} computes its output; it knows Sequential, " +
        "ConvBlock, LeNet5, AveragePoolingLeNet, Conv2d, BatchNorm2d, Linear, ReLU, Tanh, Sigmoid, MaxPool2d, " +
        "AvgPool2d and Flatten.");

    private static string Label(Module module, string name) =>
        name.Length == 0 ? module.GetType().Name : $"{name} ({module.GetType().Name})";

    private static long Length(int[] shape) => shape.Aggregate(1L, (product, d) => product * d);
    private static double Megabytes(long values) => values * BytesPerValue / 1e6;
    private static string Thousands(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
    private static string Count(long value) => value > 0 ? Thousands(value) : "--";
    private static string Fixed(double value) => value.ToString("F2", CultureInfo.InvariantCulture);
}
