namespace LeNet.Core;

/// <summary>
/// A vector of integer indices — class labels, the argmax a max-pool saves — on the host (an <c>int[]</c>) or in a GPU
/// device's memory. An <c>int[]</c> converts to it implicitly, so CPU code passes arrays as before.
/// </summary>
public readonly struct Indices
{
    private readonly int[]? _host;
    private readonly DeviceMemory<int>? _memory;

    public Indices(int[] host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
    }

    private Indices(DeviceMemory<int> memory) => _memory = memory;

    public static implicit operator Indices(int[] host) => new(host);

    public int Length => _host?.Length ?? _memory?.Length ?? 0;

    /// <summary>True when the indices live in host memory.</summary>
    public bool IsHost => _memory is null || _memory.Length == 0;

    /// <summary>The host array; a clear error for indices that live on a device.</summary>
    public int[] Host => _host ?? (Length == 0 ? [] : throw new InvalidOperationException(
        "These indices live on a GPU device; the CPU kernels cannot read them. Copy them with ToArray() first."));

    /// <summary>The device memory, for that device's backend.</summary>
    internal DeviceMemory<int> Memory => _memory ?? throw new InvalidOperationException(
        "These indices live in host memory; a GPU kernel cannot read them. Upload them with Indices.To(device) first.");

    /// <summary>A copy in a new host array (waits for the device when they live on one).</summary>
    public int[] ToArray()
    {
        if (_memory is null) return (int[])(_host ?? []).Clone();
        var values = new int[_memory.Length];
        _memory.CopyToHost(values);
        return values;
    }

    /// <summary>Overwrites the indices with <paramref name="values"/> (uploading them to a device).</summary>
    public void CopyFrom(ReadOnlySpan<int> values)
    {
        if (values.Length != Length)
            throw new ArgumentException($"{values.Length} values do not fill {Length} indices.", nameof(values));
        if (_memory is null) values.CopyTo(_host);
        else _memory.CopyFromHost(values);
    }

    /// <summary>
    /// A copy on <paramref name="device"/> (these indices themselves when they already live in its kind of memory).
    /// </summary>
    public Indices To(Device device)
    {
        if (device.IsCpu) return _memory is null ? this : new Indices(ToArray());
        if (_memory is not null) return this;
        var copy = Allocate(device, Length);
        copy._memory!.CopyFromHost(_host);
        return copy;
    }

    /// <summary>
    /// Elements start .. start + count of device indices (sharing their memory), for gathering a part.
    /// </summary>
    internal Indices Slice(int start, int count) =>
        _memory is null ? new Indices(_host.AsSpan(start, count).ToArray()) : new Indices(_memory.Slice(start, count));

    /// <summary>New zeroed indices of this length on this device.</summary>
    public static Indices Allocate(Device device, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return device.IsCpu ? new int[length] : new Indices(device.Backend.Allocate<int>(length));
    }
}
