using LeNet.Core.Backends;

namespace LeNet.Core;

/// <summary>
/// Where a tensor's storage lives and which backend runs its operations: the CPU (host memory, SIMD or Reference
/// kernels) or a GPU (device memory; opened with <c>Cuda.CudaDevice</c>).
/// </summary>
public sealed class Device
{
    /// <summary>The CPU with the fast SIMD kernels: where tensors are made unless another device is named.</summary>
    public static readonly Device Cpu = new("cpu", "cpu", CpuBackend.Instance, isHost: true);

    /// <summary>
    /// The CPU with the scalar Reference kernels, for checking the fast ones (same storage as <see cref="Cpu"/>).
    /// </summary>
    public static readonly Device CpuReference = new("cpu-reference", "cpu-reference", ReferenceBackend.Instance,
        isHost: true);

    internal Device(string name, string description, Backend backend, bool isHost) =>
        (Name, Description, Backend, IsCpu) = (name, description, backend, isHost);

    public string Name { get; }

    /// <summary>Maps each operation on tensors of this device to kernels.</summary>
    public Backend Backend { get; }

    /// <summary>A description for logs: "cpu", or the GPU's name.</summary>
    public string Description { get; }

    /// <summary>True for devices whose tensors live in host memory (so moving between them is a relabelling).</summary>
    public bool IsCpu { get; }

    private Tensor? _one;

    /// <summary>
    /// The scalar 1 on this device, made once and never written: the gradient a scalar loss's node receives in a
    /// backward pass (<see cref="Autograd.Node.BackwardFromOne"/>).
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
    public void Synchronize() => Backend.Synchronize();

    public override string ToString() => Name;
}
