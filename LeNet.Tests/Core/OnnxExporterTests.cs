using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Serialization.Onnx;
using LeNet.Core.Serialization.Onnx.Schema;
using LeNet.Tests.Train;
using Microsoft.ML.OnnxRuntime;

namespace LeNet.Tests.Core;

public class OnnxExporterTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("lenet5")]
    [InlineData("lenet5-table")]
    [InlineData("lenet1998")]
    public void Each_variant_exported_gives_our_logits_in_OnnxRuntime_at_batch_7_and_at_batch_1(string variant)
    {
        var model = ModelVariants.Create(variant, seed: 11);
        RandomiseBatchNorm(model, new Random(12));
        var images = Images(new Random(13), 7);
        var ours = Logits(model, images, 7);
        Assert.True(model.Training, "the test means to export a model left in training mode");

        using var session = new InferenceSession(OnnxExporter.Export(model));
        Assert.True(model.Training, "export must leave the model's mode as it was");
        var batch7 = OnnxRuntimeLogits.Run(session, images, 7);
        var batch1 = OnnxRuntimeLogits.Run(session, images.AsMemory(0, 32 * 32), 1);
        output.WriteLine(
            $"{variant}: max relative difference " +
                $"{OnnxRuntimeLogits.MaxRelativeDifference(ours, batch7, 10):E2} at batch 7, " +
            $"{OnnxRuntimeLogits.MaxRelativeDifference(ours[..10], batch1, 10):E2} at batch 1");
        Assert.InRange(OnnxRuntimeLogits.MaxRelativeDifference(ours, batch7, 10), 0, Tolerance);
        Assert.InRange(OnnxRuntimeLogits.MaxRelativeDifference(ours[..10], batch1, 10), 0, Tolerance);
        Assert.Equal(OnnxRuntimeLogits.Predictions(ours, 10), OnnxRuntimeLogits.Predictions(batch7, 10));
    }

    [Fact]
    public void The_file_declares_opset_13_a_dynamic_batch_named_input_and_output_and_one_operator_per_layer()
    {
        var bytes = OnnxExporter.Export(new LeNet5(seed: 3),
            new OnnxExportOptions { Metadata = new Dictionary<string, string> { ["model"] = "lenet5" } });
        var proto = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(7, proto.IrVersion);
        Assert.Equal(13, Assert.Single(proto.OpsetImport, o => o.Domain == "").Version);
        Assert.Equal("lenet5", Assert.Single(proto.MetadataProps).Value);
        var input = Assert.Single(proto.Graph.Input);
        Assert.Equal("input", input.Name);
        Assert.Equal(["N", "1", "32", "32"], input.Type.TensorType.Shape.Dim.Select(Describe));
        var output = Assert.Single(proto.Graph.Output);
        Assert.Equal("logits", output.Name);
        Assert.Equal(["N", "10"], output.Type.TensorType.Shape.Dim.Select(Describe));
        string[] operators =
        [
            "Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization", "Relu", "MaxPool",
            "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm",
        ];
        Assert.Equal(operators, proto.Graph.Node.Select(n => n.OpType));
        Assert.All(proto.Graph.Node.Where(n => n.OpType == "Gemm"), n =>
            Assert.Equal(1, n.Attribute.Single(a => a.Name == "transB").I));
        // Every weight and running statistic is stored once under its state-dict name.
        Assert.Equal(new LeNet5().StateDict().Select(e => e.Name).Order(),
            proto.Graph.Initializer.Select(t => t.Name).Order());

        string[] table = ["Conv", "Relu", "AveragePool", "Conv", "Relu", "AveragePool", "Conv", "Relu", "Flatten",
            "Gemm", "Relu", "Gemm"];
        Assert.Equal(table,
            ModelProto.Parser.ParseFrom(OnnxExporter.Export(new LeNet5Table())).Graph.Node.Select(n => n.OpType));

        // ONNX Runtime reads the batch as the symbolic dimension N.
        using var session = new InferenceSession(bytes);
        Assert.Equal([-1, 1, 32, 32], session.InputMetadata["input"].Dimensions);
        Assert.Equal("N", session.InputMetadata["input"].SymbolicDimensions[0]);
        Assert.Equal([-1, 10], session.OutputMetadata["logits"].Dimensions);
    }

    [Fact]
    public void A_chain_with_sigmoid_padding_strides_no_bias_and_an_explicit_flatten_exports_exactly()
    {
        var random = new Random(21);
        var model = new Sequential(
            new Conv2d(1, 4, 3, random, stride: 2, padding: 1), new BatchNorm2d(4), new Sigmoid(), new MaxPool2d(3, 2),
            new Conv2d(4, 5, 3, random, padding: 1, bias: false), new Tanh(), new AvgPool2d(2),
            new Flatten(), new Linear(5 * 3 * 3, 12, random, bias: false), new Sigmoid(), new Linear(12, 10, random));
        RandomiseBatchNorm(model, random);
        var images = Images(random, 5);
        var ours = Logits(model, images, 5);
        using var session = new InferenceSession(OnnxExporter.Export(model));
        Assert.InRange(OnnxRuntimeLogits.MaxRelativeDifference(ours, OnnxRuntimeLogits.Run(session, images, 5), 10),
            0, Tolerance);
    }

    [Fact]
    public void A_layer_without_an_ONNX_form_is_refused_with_one_sentence_and_no_file()
    {
        var model = new Sequential(new Conv2d(1, 2, 5, new Random(1)), new Identity(), new Flatten(),
            new Linear(2 * 28 * 28, 10, new Random(2)));
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "model.onnx");
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Save(model, path));
        Assert.Equal(
            "The layer '1' of type Identity has no ONNX form in this exporter, which knows Conv2d, BatchNorm2d, " +
                "ReLU, Tanh, Sigmoid, " +
            "MaxPool2d, AvgPool2d, Flatten and Linear; export a model built from those.", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public void A_model_whose_forward_is_not_its_layers_in_registration_order_is_refused()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "model.onnx");
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Save(new ReLUBeforeConvolution(), path));
        Assert.StartsWith(
            "The ReLUBeforeConvolution's forward pass is not the chain of its layers in the order they were registered",
            e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    /// <summary>
    /// Running statistics and affine weights away from their initial 0/1, so that BatchNorm's export is really tested.
    /// </summary>
    internal static void RandomiseBatchNorm(Module module, Random random)
    {
        if (module is BatchNorm2d norm)
        {
            Fill(norm.Weight, 0.5, 1.5);
            Fill(norm.Bias, -0.5, 0.5);
            Fill(norm.RunningMean, -0.5, 0.5);
            Fill(norm.RunningVar, 0.3, 2.0);
        }
        foreach (var (_, child) in module.NamedChildren()) RandomiseBatchNorm(child, random);

        void Fill(Tensor tensor, double low, double high)
        {
            for (var i = 0; i < tensor.Length; i++)
                tensor.AsSpan()[i] = (float)(low + (high - low) * random.NextDouble());
        }
    }

    /// <summary>
    /// Inputs in the range normalised MNIST pixels take, (0 − 0.13)/0.31 ≈ −0.43 to (1 − 0.13)/0.31 ≈ 2.8.
    /// </summary>
    internal static float[] Images(Random random, int count) =>
        Enumerable.Range(0, count * 32 * 32).Select(_ => (float)(-0.43 + 3.23 * random.NextDouble())).ToArray();

    internal static float[] Logits(Module model, float[] images, int count)
    {
        model.Eval();
        try
        {
            using var noGrad = GradientTape.NoGrad();
            return model.Forward(Tensor.FromArray(images, count, 1, 32, 32)).ToArray();
        }
        finally { model.Train(); }
    }

    private static string Describe(TensorShapeProto.Types.Dimension dimension) =>
        dimension.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? dimension.DimParam
            : dimension.DimValue.ToString();

    private sealed class Identity : Module
    {
        public override Tensor Forward(Tensor input) => input;
    }

    /// <summary>
    /// Registers a convolution, a ReLU and a Flatten, but applies the ReLU first: same shapes, other values.
    /// </summary>
    private sealed class ReLUBeforeConvolution : Module
    {
        private readonly Conv2d _convolution;
        private readonly ReLU _relu;
        private readonly Flatten _flatten;

        public ReLUBeforeConvolution()
        {
            _convolution = RegisterModule("conv", new Conv2d(1, 10, 32, new Random(4)));
            _relu = RegisterModule("relu", new ReLU());
            _flatten = RegisterModule("flatten", new Flatten());
        }

        public override Tensor Forward(Tensor input) => _flatten.Forward(_convolution.Forward(_relu.Forward(input)));
    }
}
