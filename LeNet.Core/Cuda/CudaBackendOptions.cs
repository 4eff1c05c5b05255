namespace LeNet.Core.Cuda;

/// <summary>
/// Choices a GPU backend is made with, for comparing paths side by side (benchmarks, tests); the defaults are the
/// fastest measured (benchmarks/README.md).
/// </summary>
public sealed record CudaBackendOptions
{
    /// <summary>
    /// Whether the classifier head runs fused with its loss where its shape fits (two launches a step instead of
    /// seven).
    /// </summary>
    public bool FuseHead { get; init; } = true;

    /// <summary>Whether the convolutions are compiled per shape (constants folded in) rather than generic.</summary>
    public bool SpecializeShapes { get; init; } = true;
}
