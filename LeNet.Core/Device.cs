using LeNet.Core.Backends;
using LeNet.Kernels.Cuda;

namespace LeNet.Core;

/// <summary>Where a tensor's storage lives and which backend runs its operations.</summary>
public sealed class Device
{
    /// <summary>The CPU with the fast SIMD kernels: where tensors are made unless another device is named.</summary>
    public static readonly Device Cpu = new("cpu", CpuBackend.Instance, null);

    /// <summary>The CPU with the scalar Reference kernels, for checking the fast ones (same storage as <see cref="Cpu"/>).</summary>
    public static readonly Device CpuReference = new("cpu-reference", ReferenceBackend.Instance, null);

    private Device(string name, Backend backend, GpuDevice? gpu) => (Name, Backend, Gpu) = (name, backend, gpu);

    /// <summary>
    /// A device whose tensors live in the memory of an ILGPU accelerator — a CUDA GPU, or ILGPU's CPU accelerator, which
    /// runs the same kernels on the host (what the tests use where no GPU is present). The kernels are compiled here,
    /// once. The caller keeps ownership of <paramref name="gpu"/> and disposes it after the last tensor on it is gone.
    /// </summary>
    public static Device OnGpu(GpuDevice gpu)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        var kernels = new CudaKernels(gpu.Accelerator, gpu.Options);
        return new Device(gpu.IsCuda ? "cuda" : "ilgpu-cpu", new CudaBackend(kernels), gpu);
    }

    /// <summary>
    /// Opens the first CUDA GPU as a device (kept open for the life of the process). Never throws for a machine without
    /// one: returns false and why, as a clause for the caller's sentence ("no CUDA GPU was found (...)").
    /// </summary>
    public static bool TryOpenCuda(out Device? device, out string reason)
    {
        device = null;
        if (!GpuDevice.TryCreateCuda(out var gpu, out reason)) return false;
        device = OnGpu(gpu!);
        return true;
    }

    public string Name { get; }

    /// <summary>Maps each operation on tensors of this device to kernels.</summary>
    public Backend Backend { get; }

    /// <summary>The accelerator holding this device's tensors; null for the CPU devices.</summary>
    public GpuDevice? Gpu { get; }

    /// <summary>A description for logs: "cpu", or the GPU's name.</summary>
    public string Description => Gpu is { } gpu ? $"{Name} ({gpu.Name})" : Name;

    /// <summary>True for devices whose tensors live in managed memory (so moving between them is a relabelling).</summary>
    public bool IsCpu => Gpu is null;

    private Tensor? _one;

    /// <summary>
    /// The scalar 1 on this device, made once and never written: the gradient a scalar loss's own node receives in
    /// backward (read-only, as every node treats its output's gradient).
    /// </summary>
    internal Tensor One
    {
        get
        {
            if (Volatile.Read(ref _one) is { } one) return one;
            Interlocked.CompareExchange(ref _one, Tensor.FromArray(this, [1f]), null);
            return _one;
        }
    }

    /// <summary>Waits until every operation queued on this device has finished (a no-op on the CPU).</summary>
    public void Synchronize() => (Backend as CudaBackend)?.Kernels.Synchronize();

    public override string ToString() => Name;
}
