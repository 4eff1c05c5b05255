using Google.Protobuf;
using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Core.Serialization.Onnx.Schema;
using static LeNet.Core.Serialization.Onnx.OnnxGraphBuilder;

namespace LeNet.Core.Serialization.Onnx;

/// <summary>
/// Writes a model as a standard ONNX file (opset 13, IR version 7): input "input" [N, C, H, W] float with a dynamic
/// batch N, output "logits" [N, classes], weights stored in the file. The model must be a chain of the layers ONNX
/// has operators for, in the order its modules were registered: Conv2d → Conv, BatchNorm2d → BatchNormalization
/// (inference: the running statistics), ReLU/Tanh/Sigmoid → Relu/Tanh/Sigmoid, MaxPool2d → MaxPool, AvgPool2d →
/// AveragePool, Flatten → Flatten, Linear → Gemm (transB = 1), with a Flatten put in where a Linear meets a map, as
/// the models' Forward reshapes there. A probe batch run both ways checks that this chain is the model's forward pass.
/// </summary>
public static class OnnxExporter
{
    public const int OpsetVersion = 13;
    public const int IrVersion = 7;
    public const string InputName = "input";
    public const string OutputName = "logits";
    public const string BatchDimension = "N";

    private const string KnownLayers =
        "Conv2d, BatchNorm2d, ReLU, Tanh, Sigmoid, MaxPool2d, AvgPool2d, Flatten and Linear";

    /// <summary>Written atomically: on any failure no file (and no partial one) is left.</summary>
    public static void Save(Module model, string path, OnnxExportOptions? options = null)
    {
        var bytes = Export(model, options);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Throws an <see cref="OnnxExportException"/> for a model it cannot represent.</summary>
    public static byte[] Export(Module model, OnnxExportOptions? options = null) =>
        BuildModel(model, options ?? new OnnxExportOptions()).ToByteArray();

    internal static ModelProto BuildModel(Module model, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (options.ImageShape is not { Length: 3 } image || image.Any(size => size < 1))
            throw new ArgumentException("The image shape is [channels, height, width], all positive.", nameof(options));
        var layers = new List<(string Name, Module Layer)>();
        Collect(model, "", layers);
        if (layers.Count == 0)
            throw new OnnxExportException($"The {model.GetType().Name} has no layers to export.");
        var (flattenBefore, outputShape) = Probe(model, layers, image);

        var graph = new OnnxGraphBuilder(options.GraphName);
        graph.Input(InputName, [BatchDimension, image[0], image[1], image[2]]);
        var value = InputName;
        for (var i = 0; i < layers.Count; i++)
        {
            var (name, layer) = layers[i];
            if (flattenBefore[i])
                value = graph.Node("Flatten", name + ".flatten", [value], name + ".flatten", Int("axis", 1));
            var output = i == layers.Count - 1 ? OutputName : name;
            value = Emit(graph, name, layer, value, output);
        }
        graph.Output(OutputName, [BatchDimension, .. outputShape.Skip(1).Cast<object>()]);

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "LeNet.Core",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            DocString = options.Description ?? "",
            Graph = graph.Graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        foreach (var (key, text) in options.Metadata)
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = text });
        return proto;
    }

    /// <summary>Appends the ONNX node(s) for one layer; returns the output's name.</summary>
    private static string Emit(OnnxGraphBuilder graph, string name, Module layer, string input, string output)
    {
        string Weight(string member, Tensor tensor) => graph.Initializer(name + "." + member, tensor);
        string[] WeightAndBias(Tensor weight, Tensor? bias) =>
            bias is null ? [input, Weight("weight", weight)] : [input, Weight("weight", weight), Weight("bias", bias)];
        return layer switch
        {
            Conv2d conv => graph.Node("Conv", name, WeightAndBias(conv.Weight, conv.Bias), output,
                Ints("kernel_shape", conv.Weight.Size(2), conv.Weight.Size(3)),
                Ints("strides", conv.Stride, conv.Stride),
                Ints("pads", conv.Padding, conv.Padding, conv.Padding, conv.Padding), Ints("dilations", 1, 1),
                Int("group", 1)),
            // Opset 13's BatchNormalization (version 9) is the inference form: (x − mean) / √(var + ε) · γ + β.
            // ONNX's momentum weighs the old running value, PyTorch's the new one.
            BatchNorm2d norm => graph.Node("BatchNormalization", name,
                [input, Weight("weight", norm.Weight), Weight("bias", norm.Bias),
                    Weight("running_mean", norm.RunningMean), Weight("running_var", norm.RunningVar)],
                output, Float("epsilon", norm.Eps), Float("momentum", 1 - norm.Momentum)),
            ReLU => graph.Node("Relu", name, [input], output),
            Tanh => graph.Node("Tanh", name, [input], output),
            Sigmoid => graph.Node("Sigmoid", name, [input], output),
            MaxPool2d pool => graph.Node("MaxPool", name, [input], output,
                Ints("kernel_shape", pool.KernelSize, pool.KernelSize), Ints("strides", pool.Stride, pool.Stride)),
            AvgPool2d pool => graph.Node("AveragePool", name, [input], output,
                Ints("kernel_shape", pool.KernelSize, pool.KernelSize), Ints("strides", pool.Stride, pool.Stride)),
            Flatten => graph.Node("Flatten", name, [input], output, Int("axis", 1)),
            Linear linear => graph.Node("Gemm", name, WeightAndBias(linear.Weight, linear.Bias), output,
                Float("alpha", 1), Float("beta", 1), Int("transB", 1)),
            _ => throw new InvalidOperationException($"{layer.GetType().Name} passed Collect but has no ONNX form."),
        };
    }

    // The layers in registration order, containers opened; a module that is neither a known layer nor a pure container
    // (children only, no weights of its own) is refused.
    private static void Collect(Module module, string name, List<(string Name, Module Layer)> layers)
    {
        if (module is Conv2d or BatchNorm2d or ReLU or Tanh or Sigmoid or MaxPool2d or AvgPool2d or Flatten or Linear)
        {
            layers.Add((name, module));
            return;
        }
        var children = module.NamedChildren().ToList();
        if (children.Count == 0 || module.StateDict().Any(entry => !entry.Name.Contains('.')))
            throw new OnnxExportException(
                $"The layer {(name.Length == 0 ? "" : $"'{name}' ")}of type {module.GetType().Name} has no ONNX form " +
                $"in this exporter, which knows {KnownLayers}; export a model built from those.");
        foreach (var (childName, child) in children)
            Collect(child, name.Length == 0 ? childName : name + "." + childName, layers);
    }

    // Runs a random probe batch through the model and through the chain of its layers (in evaluation mode) and refuses
    // the model when they disagree: then its Forward is not that chain (layers skipped, reordered, or combined in a way
    // a chain cannot say).
    private static (bool[] FlattenBefore, int[] OutputShape) Probe(Module model,
        List<(string Name, Module Layer)> layers, int[] image)
    {
        const int batch = 3;
        var random = new Random(1998);
        var values = new float[batch * image[0] * image[1] * image[2]];
        for (var i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 3 - 1);
        var device = model.Parameters().FirstOrDefault()?.Device ?? Device.Cpu;
        var flattenBefore = new bool[layers.Count];
        var wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = GradientTape.NoGrad();
            var input = Tensor.FromArray(device, values, [batch, .. image]);
            Tensor expected;
            try { expected = model.Forward(input); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw new OnnxExportException(
                    $"The {model.GetType().Name} does not take input {Tensor.Format([batch, .. image])} " +
                    $"({e.Message.TrimEnd('.')}); export it with its own image shape.", e);
            }
            var chained = input;
            for (var i = 0; i < layers.Count; i++)
            {
                if (layers[i].Layer is Linear && chained.Rank > 2)
                {
                    flattenBefore[i] = true;
                    chained = chained.Reshape(chained.Size(0), -1);
                }
                try { chained = layers[i].Layer.Forward(chained); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    throw NotAChain(model, e);
                }
            }
            if (!chained.Shape.SequenceEqual(expected.Shape) || !Close(expected.ToArray(), chained.ToArray()))
                throw NotAChain(model, null);
            return (flattenBefore, expected.Shape.ToArray());
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    private static OnnxExportException NotAChain(Module model, Exception? inner) => new(
        $"The {model.GetType().Name}'s forward pass is not the chain of its layers in the order they were " +
        "registered, which is the only form this exporter can write; register the layers in the order Forward " +
        "applies them.", inner);

    // Normwise relative agreement within 1e-3: the same layers fused or not round differently (~1e-6), while a layer
    // out of place changes the output at order one.
    private static bool Close(float[] expected, float[] actual)
    {
        double difference = 0, norm = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            difference += (double)(expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += (double)expected[i] * expected[i];
        }
        return double.IsFinite(difference) && Math.Sqrt(difference) <= 1e-3 * Math.Max(Math.Sqrt(norm), 1e-30);
    }
}
