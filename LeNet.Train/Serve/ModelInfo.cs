using LeNet.Core.Files;
using LeNet.Core.Models;
using LeNet.Core.Modules;

namespace LeNet.Train.Serve;

/// <summary>GET /api/model: what the page shows beside the canvas (the model, its layers, its test accuracy).</summary>
public sealed record ModelInfo(string Model, IReadOnlyList<string> Classes, long Parameters, long MultAdds,
    IReadOnlyList<ModelInfo.Layer> Layers, double? TestAccuracy, int? TestImages, bool Training)
{
    public sealed record Layer(string Name, string Type, int[] Shape, long Parameters);

    public static ModelInfo Of(string variant, Module model, IReadOnlyList<string> classes, double? testAccuracy,
        int? testImages, bool training)
    {
        var size = MnistPreprocessing.DefaultImageSize;
        var summary = ModelSummary.Of(model, 1, size, size);
        var layers = summary.Rows.Where(r => r.Depth == 1)
            .Select(r => new Layer(r.Name, r.Type, r.OutputShape[1..], r.Parameters)).ToList();
        return new ModelInfo(Trainer.DisplayName(variant), classes, summary.TotalParameters, summary.MultAdds, layers,
            testAccuracy, testImages, training);
    }

    /// <summary>
    /// The final test accuracy that the run which wrote <paramref name="modelPath"/> recorded in the metrics.json
    /// beside it; null when there is none or it cannot be read (the page then shows no accuracy).
    /// </summary>
    public static (double Accuracy, int Images)? RecordedAccuracy(string modelPath)
    {
        var folder = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        try
        {
            var path = Path.Combine(folder, "metrics.json");
            if (!File.Exists(path)) return null;
            // Read as every file here is: a FIFO, a device or a huge file is refused, not waited on.
            using var json = JsonDocument.Parse(ReadableFile.ReadAllBytes(path, 16 << 20));
            var root = json.RootElement;
            return root.TryGetProperty("finalTestAccuracy", out var accuracy) && accuracy.TryGetDouble(out var value)
                && double.IsFinite(value) && value is >= 0 and <= 100
                && root.TryGetProperty("testImages", out var images) && images.TryGetInt32(out var count) && count > 0
                ? (value, count) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException
            or InvalidOperationException)
        {
            return null;
        }
    }
}
