using LeNet.Core.Backends;

namespace LeNet.Core;

/// <summary>
/// Where a tensor's storage lives and which backend runs its operations: the CPU (host memory, SIMD or Reference
/// kernels) or a GPU (device memory; opened with Cuda.CudaDevice).
/// </summary>
public sealed class Device
{
    /// <summary>Where tensors are made unless another device is named.</summary>
    public static readonly Device Cpu = new("cpu", "cpu", CpuBackend.Instance, isHost: true);

    /// <summary>The scalar Reference kernels, for checking the fast ones; same storage as Cpu.</summary>
    public static readonly Device CpuReference = new("cpu-reference", "cpu-reference", ReferenceBackend.Instance,
        isHost: true);

    internal Device(string name, string description, Backend backend, bool isHost) =>
        (Name, Description, Backend, IsCpu) = (name, description, backend, isHost);

    public string Name { get; }
    public Backend Backend { get; }
    /// <summary>For logs: "cpu", or the GPU's name.</summary>
    public string Description { get; }
    /// <summary>True where tensors live in host memory, so moving between such devices is a relabelling.</summary>
    public bool IsCpu { get; }

    private Tensor? _one;

    // Made once and never written: the gradient a scalar loss's node receives in a backward pass.
    internal Tensor One
    {
        get
        {
            if (Volatile.Read(ref _one) is { } one) return one;
            Interlocked.CompareExchange(ref _one, Tensor.FromArray(this, [1f]), null);
            return _one;
        }
    }

    public void Synchronize() => Backend.Synchronize();
    public override string ToString() => Name;
}
