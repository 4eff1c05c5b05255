using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;

namespace LeNet.Benchmarks;

/// <summary>
/// For the GPU benchmarks whose parameter is a <see cref="Kernels.Cuda.GpuOptions"/>: the parameter column wide enough
/// for the record's whole text (BenchmarkDotNet cuts parameters to 20 characters by default).
/// </summary>
public sealed class GpuOptionsColumnConfig : ManualConfig
{
    public GpuOptionsColumnConfig() => SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(80);
}
