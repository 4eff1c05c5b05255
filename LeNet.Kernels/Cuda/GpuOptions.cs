using System.Text;
using ILGPU;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// How the GPU path is compiled and run: given to <see cref="GpuDevice.TryCreateCuda"/> (or
/// <see cref="GpuDevice.CreateCpu"/>), kept as <see cref="GpuDevice.Options"/>, and read by
/// <see cref="CudaKernels"/> and the CUDA backend built on them. The defaults are the trainer's; the others exist for
/// comparisons (the benchmarks' parameters).
/// </summary>
/// <param name="Optimization">
/// The ILGPU optimisation level the CUDA kernels are compiled with: O1 by default, not O2, whose code-placement pass
/// moves loop-invariant index arithmetic into inner loops (benchmarks/README.md, GPU steps). The CPU accelerator
/// ignores it.
/// </param>
/// <param name="SpecializeShapes">
/// Compile the training step's convolutions and fused blocks for each shape they meet (ILGPU's dynamic specialization:
/// the sizes become constants) rather than once for all shapes; both give the same bits.
/// </param>
/// <param name="FuseHead">Run a classifier head and its loss as one fused operation rather than as its parts.</param>
public sealed record GpuOptions(
    OptimizationLevel Optimization = OptimizationLevel.O1, bool SpecializeShapes = true, bool FuseHead = true)
{
    /// <summary>The trainer's options: O1, kernels compiled per shape, the head fused with its loss.</summary>
    public static GpuOptions Default { get; } = new();

    /// <summary>The members as the record prints them, the level by its O-name (ILGPU's O1 is also Release).</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Optimization = O{(int)Optimization}, SpecializeShapes = {SpecializeShapes}, ");
        builder.Append($"FuseHead = {FuseHead}");
        return true;
    }

    /// <summary>Throws for an <see cref="Optimization"/> that is not one of ILGPU's levels.</summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(Optimization))
            throw new ArgumentOutOfRangeException(nameof(Optimization), Optimization,
                "Not an ILGPU optimisation level (O0, O1 or O2).");
    }
}
