using LeNet.Core.Models;
using LeNet.Core.Serialization.Onnx;
using LeNet.Tests.Mnist;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace LeNet.Tests.Core;

/// <summary>The ML.NET usage of an exported model that docs/onnx.md shows, run as written there.</summary>
public class MlNetOnnxTests
{
    [Fact]
    public void MlNet_ApplyOnnxModel_on_the_exported_file_gives_our_logits_and_digits()
    {
        var model = ModelVariants.Create("lenet5", seed: 21);
        OnnxExporterTests.RandomiseBatchNorm(model, new Random(22));
        const int count = 9;
        var images = OnnxExporterTests.Images(new Random(23), count);
        var ours = OnnxExporterTests.Logits(model, images, count);
        using var folder = new TempDirectory();
        var path = Path.Combine(folder.Path, "lenet5.onnx");
        OnnxExporter.Save(model, path);

        // As docs/onnx.md shows: an input column "input" of [VectorType(1, 32, 32)] float[], ApplyOnnxModel("logits",
        // "input", file).
        var mlContext = new MLContext(seed: 0);
        var rows = Enumerable.Range(0, count)
            .Select(i => new Digit { Input = images.AsSpan(i * 32 * 32, 32 * 32).ToArray() });
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var transformer = mlContext.Transforms.ApplyOnnxModel("logits", "input", path).Fit(data);
        var theirs = mlContext.Data.CreateEnumerable<Scores>(transformer.Transform(data), reuseRowObject: false)
            .SelectMany(row => row.Logits).ToArray();

        Assert.Equal(count * 10, theirs.Length);
        Assert.InRange(OnnxRuntimeLogits.MaxRelativeDifference(ours, theirs, 10), 0, 1e-4);
        Assert.Equal(OnnxRuntimeLogits.Predictions(ours, 10), OnnxRuntimeLogits.Predictions(theirs, 10));
    }

    private sealed class Digit
    {
        [ColumnName("input"), VectorType(1, 32, 32)]
        public float[] Input { get; set; } = [];
    }

    private sealed class Scores
    {
        [ColumnName("logits"), VectorType(10)]
        public float[] Logits { get; set; } = [];
    }
}
