using LeNet.Core.Backends;

namespace LeNet.Core;

/// <summary>Where a tensor's storage lives and which backend runs its operations.</summary>
public sealed class Device
{
    /// <summary>The CPU with the fast SIMD kernels: where tensors are made unless another device is named.</summary>
    public static readonly Device Cpu = new("cpu", CpuBackend.Instance);

    /// <summary>The CPU with the scalar Reference kernels, for checking the fast ones (same storage as <see cref="Cpu"/>).</summary>
    public static readonly Device CpuReference = new("cpu-reference", ReferenceBackend.Instance);

    private Device(string name, Backend backend) => (Name, Backend) = (name, backend);

    public string Name { get; }

    /// <summary>Maps each operation on tensors of this device to kernels.</summary>
    public Backend Backend { get; }

    /// <summary>True for devices whose tensors live in managed memory (so moving between them is a relabelling).</summary>
    public bool IsCpu => this == Cpu || this == CpuReference;

    public override string ToString() => Name;
}
