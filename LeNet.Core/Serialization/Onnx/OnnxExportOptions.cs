namespace LeNet.Core.Serialization.Onnx;

/// <summary>What the exported graph takes and what it records beside the weights.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The shape of one input image, [C, H, W]; the graph's input is [N, C, H, W] with a dynamic N.</summary>
    public int[] ImageShape { get; init; } = [1, 32, 32];

    /// <summary>The graph's name (Netron shows it).</summary>
    public string GraphName { get; init; } = "lenet";

    /// <summary>A line on the model and its expected input, stored as the model's doc_string.</summary>
    public string? Description { get; init; }

    /// <summary>Stored as the model's metadata_props (ONNX Runtime: ModelMetadata.CustomMetadataMap).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}
