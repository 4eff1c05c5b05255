using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Core;

/// <summary>
/// A vector of integer indices — class labels, the argmax a max-pool saves — on the host (an <c>int[]</c>) or on a GPU
/// device (an ILGPU view). An <c>int[]</c> converts to it implicitly, so CPU code passes arrays as before.
/// </summary>
public readonly struct Indices
{
    private readonly int[]? _host;
    private readonly ArrayView<int> _view;

    public Indices(int[] host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
    }

    internal Indices(ArrayView<int> view) => _view = view;

    public static implicit operator Indices(int[] host) => new(host);

    public int Length => _host?.Length ?? (int)_view.Length;

    /// <summary>True when the indices live in host memory.</summary>
    public bool IsHost => _host is not null || _view.Length == 0;

    /// <summary>The host array; a clear error for indices that live on a device.</summary>
    public int[] Host => _host ?? (_view.Length == 0 ? [] : throw new InvalidOperationException(
        "These indices live on a GPU device; the CPU kernels cannot read them. Copy them with ToArray() first."));

    /// <summary>The device view (empty for host indices).</summary>
    internal ArrayView<int> View => _host is null ? _view : throw new InvalidOperationException(
        "These indices live in host memory; a GPU kernel cannot read them. Upload them with Indices.To(device) first.");

    /// <summary>A copy in a new host array (waits for the device when they live on one).</summary>
    public int[] ToArray()
    {
        if (_host is not null) return (int[])_host.Clone();
        var values = new int[_view.Length];
        if (values.Length > 0) _view.CopyToCPU(values);
        return values;
    }

    /// <summary>A copy on <paramref name="device"/> (these indices themselves when they already live in its kind of memory).</summary>
    public Indices To(Device device)
    {
        if (device.IsCpu) return IsHost ? this : new Indices(ToArray());
        if (!IsHost) return this;
        var copy = Allocate(device, Length);
        if (Length > 0) copy._view.CopyFromCPU(_host!);
        return copy;
    }

    /// <summary>New zeroed indices of this length on this device.</summary>
    public static Indices Allocate(Device device, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (device.IsCpu) return new int[length];
        // ILGPU refuses empty buffers: allocate one element and view none of it.
        var buffer = device.Gpu!.Accelerator.Allocate1D<int>(Math.Max(1, length));
        buffer.View.MemSetToZero();
        return new Indices(buffer.View.SubView(0, length));
    }
}
