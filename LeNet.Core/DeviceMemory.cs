namespace LeNet.Core;

/// <summary>
/// Memory of a device other than the host: what a GPU tensor or GPU indices keep their elements in. Each device
/// backend implements it (Cuda.CudaMemory); copies are queued on the device's stream, and reading back waits for it.
/// </summary>
public abstract class DeviceMemory<T> where T : unmanaged
{
    public abstract int Length { get; }
    /// <summary>Fills the destination's first Length values, waiting for the device.</summary>
    public abstract void CopyToHost(Span<T> destination);
    public abstract void CopyFromHost(ReadOnlySpan<T> source);
    /// <summary>On the device, into destination from element offset on.</summary>
    public abstract void CopyTo(DeviceMemory<T> destination, int offset);
    /// <summary>Shares this memory.</summary>
    public abstract DeviceMemory<T> Slice(int offset, int length);
    /// <summary>True when the two share an element.</summary>
    public abstract bool Overlaps(DeviceMemory<T> other);
    /// <summary>True when the two are slices of one allocation.</summary>
    public abstract bool SameAllocation(DeviceMemory<T> other);
    /// <summary>True when the two start at the same element of one allocation.</summary>
    public abstract bool StartsWith(DeviceMemory<T> other);
}
