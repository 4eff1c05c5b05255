namespace LeNet.Core;

/// <summary>
/// Memory of a device other than the host, holding <typeparamref name="T"/> values: what a GPU tensor or GPU indices
/// keep their elements in. Each device backend implements it (<c>Cuda.CudaMemory</c>); copies are queued on the
/// device's stream, and reading back waits for it.
/// </summary>
public abstract class DeviceMemory<T> where T : unmanaged
{
    public abstract int Length { get; }

    /// <summary>
    /// Copies the values into <paramref name="destination"/> (its first <see cref="Length"/>), waiting for the device.
    /// </summary>
    public abstract void CopyToHost(Span<T> destination);

    /// <summary>Overwrites the values with <paramref name="source"/> (<see cref="Length"/> values).</summary>
    public abstract void CopyFromHost(ReadOnlySpan<T> source);

    /// <summary>
    /// Copies the values into <paramref name="destination"/> from element <paramref name="offset"/> on, on the device.
    /// </summary>
    public abstract void CopyTo(DeviceMemory<T> destination, int offset);

    /// <summary>Elements offset .. offset + length of this memory, sharing it.</summary>
    public abstract DeviceMemory<T> Slice(int offset, int length);

    /// <summary>True when this memory and <paramref name="other"/> share an element.</summary>
    public abstract bool Overlaps(DeviceMemory<T> other);

    /// <summary>True when this memory and <paramref name="other"/> are slices of one allocation.</summary>
    public abstract bool SameAllocation(DeviceMemory<T> other);

    /// <summary>
    /// True when this memory and <paramref name="other"/> start at the same element of one allocation.
    /// </summary>
    public abstract bool StartsWith(DeviceMemory<T> other);
}
