namespace LeNet.Core;

/// <summary>
/// Integer indices (class labels, the argmax a max-pool saves) on the host or in a GPU device's memory. An int[]
/// converts to it implicitly, so CPU code passes arrays as before.
/// </summary>
public readonly struct Indices
{
    private readonly int[]? _host;
    private readonly DeviceMemory<int>? _memory;

    public Indices(int[] host) => _host = host ?? throw new ArgumentNullException(nameof(host));

    private Indices(DeviceMemory<int> memory) => _memory = memory;

    public static implicit operator Indices(int[] host) => new(host);

    public int Length => _host?.Length ?? _memory?.Length ?? 0;
    public bool IsHost => _memory is null || _memory.Length == 0;

    public int[] Host => _host ?? (Length == 0 ? [] : throw new InvalidOperationException(
        "These indices live on a GPU device; the CPU kernels cannot read them. Copy them with ToArray() first."));

    internal DeviceMemory<int> Memory => _memory ?? throw new InvalidOperationException(
        "These indices live in host memory; a GPU kernel cannot read them. Upload them with Indices.To(device) first.");

    /// <summary>Waits for the device when the indices live on one.</summary>
    public int[] ToArray()
    {
        if (_memory is null) return (int[])(_host ?? []).Clone();
        var values = new int[_memory.Length];
        _memory.CopyToHost(values);
        return values;
    }

    public void CopyFrom(ReadOnlySpan<int> values)
    {
        if (values.Length != Length)
            throw new ArgumentException($"{values.Length} values do not fill {Length} indices.", nameof(values));
        if (_memory is null) values.CopyTo(_host);
        else _memory.CopyFromHost(values);
    }

    /// <summary>These indices themselves when they already live in the device's kind of memory, else a copy.</summary>
    public Indices To(Device device)
    {
        if (device.IsCpu) return _memory is null ? this : new Indices(ToArray());
        if (_memory is not null) return this;
        var copy = Allocate(device, Length);
        copy._memory!.CopyFromHost(_host);
        return copy;
    }

    // Device indices share their memory with the slice; host indices are copied.
    internal Indices Slice(int start, int count) =>
        _memory is null ? new Indices(_host.AsSpan(start, count).ToArray()) : new Indices(_memory.Slice(start, count));

    public static Indices Allocate(Device device, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return device.IsCpu ? new int[length] : new Indices(device.Backend.Allocate<int>(length));
    }
}
