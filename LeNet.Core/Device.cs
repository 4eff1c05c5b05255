using LeNet.Core.Backends;

namespace LeNet.Core;

/// <summary>Where a tensor's storage lives and which backend runs its operations.</summary>
public sealed class Device
{
    public static readonly Device Cpu = new("cpu", CpuBackend.Instance);

    private Device(string name, Backend backend) => (Name, Backend) = (name, backend);

    public string Name { get; }

    /// <summary>Maps each operation on tensors of this device to kernels.</summary>
    public Backend Backend { get; }

    public override string ToString() => Name;
}
