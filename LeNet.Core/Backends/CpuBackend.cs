using LeNet.Kernels;
using K = LeNet.Kernels.Cpu;

namespace LeNet.Core.Backends;

/// <summary>
/// The default CPU backend: the hand-written SIMD, multi-core kernels of LeNet.Kernels.Cpu; whatever it does not
/// override runs the Reference kernels.
/// </summary>
public sealed class CpuBackend : ReferenceBackend
{
    public static new readonly CpuBackend Instance = new();

    private CpuBackend() { }
}
