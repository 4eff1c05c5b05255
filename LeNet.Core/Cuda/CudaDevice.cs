using LeNet.Kernels.Cuda;

namespace LeNet.Core.Cuda;

/// <summary>Opens GPU devices: tensors in an ILGPU accelerator's memory, run by <see cref="CudaBackend"/>.</summary>
public static class CudaDevice
{
    /// <summary>
    /// A device on a CUDA GPU, or on ILGPU's CPU accelerator, which runs the same kernels on the host (what the tests
    /// use where no GPU is present). The kernels are compiled here, once. The caller keeps ownership of
    /// <paramref name="gpu"/> and disposes it after the last tensor on it is gone.
    /// </summary>
    public static Device Open(GpuDevice gpu)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        var name = gpu.IsCuda ? "cuda" : "ilgpu-cpu";
        return new Device(name, $"{name} ({gpu.Name})", new CudaBackend(gpu), isHost: false);
    }

    /// <summary>
    /// Opens the first CUDA GPU for the life of the process. Never throws for a machine without one: returns false and
    /// why, as a clause for the caller's sentence ("no CUDA GPU was found (...)").
    /// </summary>
    public static bool TryOpen(out Device? device, out string reason, GpuOptions? options = null)
    {
        device = null;
        if (!GpuDevice.TryCreateCuda(out var gpu, out reason, options)) return false;
        device = Open(gpu!);
        return true;
    }
}
