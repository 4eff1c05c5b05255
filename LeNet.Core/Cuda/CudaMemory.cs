using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels.Cuda;

namespace LeNet.Core.Cuda;

/// <summary>
/// Device memory of an ILGPU accelerator: a view into a buffer this memory shares with its slices. Copies are queued
/// on the stream the device's kernels run on (which a captured step moves), so they keep their order with the launches.
/// </summary>
internal sealed class CudaMemory<T> : DeviceMemory<T> where T : unmanaged
{
    private readonly MemoryBuffer _buffer; // owns View; its identity and _offset tell memories apart
    private readonly long _offset;
    private readonly CudaKernels _kernels;

    private CudaMemory(MemoryBuffer buffer, ArrayView<T> view, long offset, CudaKernels kernels) =>
        (_buffer, View, _offset, _kernels) = (buffer, view, offset, kernels);

    /// <summary>Zeros; ILGPU refuses empty buffers, so an empty memory holds one element, none viewed.</summary>
    public static CudaMemory<T> Allocate(CudaKernels kernels, int length)
    {
        var buffer = kernels.Accelerator.Allocate1D<T>(Math.Max(1, length));
        buffer.View.MemSetToZero(kernels.Stream);
        return new CudaMemory<T>(buffer, buffer.View.SubView(0, length), 0, kernels);
    }

    public ArrayView<T> View { get; }
    public override int Length => (int)View.Length;

    public override void CopyToHost(Span<T> destination)
    {
        if (Length > 0) View.CopyToCPU(_kernels.Stream, destination[..Length]);
    }

    public override void CopyFromHost(ReadOnlySpan<T> source)
    {
        if (Length > 0) View.CopyFromCPU(_kernels.Stream, source);
    }

    public override void CopyTo(DeviceMemory<T> destination, int offset)
    {
        if (Length > 0) View.CopyTo(_kernels.Stream, ((CudaMemory<T>)destination).View.SubView(offset, Length));
    }

    public override DeviceMemory<T> Slice(int offset, int length) =>
        new CudaMemory<T>(_buffer, View.SubView(offset, length), _offset + offset, _kernels);

    public override bool Overlaps(DeviceMemory<T> other) => other is CudaMemory<T> o && o._buffer == _buffer &&
        _offset < o._offset + o.Length && o._offset < _offset + Length;

    public override bool SameAllocation(DeviceMemory<T> other) => other is CudaMemory<T> o && o._buffer == _buffer;

    public override bool StartsWith(DeviceMemory<T> other) =>
        other is CudaMemory<T> o && o._buffer == _buffer && o._offset == _offset;
}
