using LeNet.Core.Autograd;

namespace LeNet.Core;

/// <summary>
/// A dense, contiguous, row-major float32 array living on one device. A CPU tensor keeps its elements in a managed
/// array; a GPU tensor in device memory, read with ToArray or Item (which wait for the device), written with CopyFrom.
/// </summary>
public sealed class Tensor
{
    private float[]? _data;
    private DeviceMemory<float>? _memory;
    private readonly int[] _shape;
    // The gradient buffer of an earlier backward pass, kept for the next one (see TakeGradBuffer).
    private Tensor? _spareGrad;
    // Grad is another tensor's storage (GradientTape.Pass): dropped on release, never kept as the spare.
    private bool _gradAdopted;

    private Tensor(float[]? data, DeviceMemory<float>? memory, int[] shape, Device device) =>
        (_data, _memory, _shape, Device) = (data, memory, shape, device);

    private Tensor(Device device, int[] shape, int length)
    {
        _shape = shape;
        Device = device;
        if (device.IsCpu) _data = new float[length];
        else _memory = device.Backend.Allocate<float>(length);
    }

    /// <summary>E.g. [N, C, H, W]; a scalar has rank 0.</summary>
    public ReadOnlySpan<int> Shape => _shape;
    public int Rank => _shape.Length;
    public int Length => _data?.Length ?? _memory!.Length;
    public Device Device { get; private set; }
    public bool RequiresGrad { get; set; }
    /// <summary>Accumulated over backward passes for leaves; null before any.</summary>
    public Tensor? Grad { get; internal set; }
    /// <summary>Null for leaves and for tensors made without recording.</summary>
    internal Node? GradFn { get; set; }
    public bool IsLeaf => GradFn is null;

    public int Size(int dimension) => _shape[dimension < 0 ? dimension + _shape.Length : dimension];

    public static Tensor Zeros(params ReadOnlySpan<int> shape) => Zeros(Device.Cpu, shape);
    public static Tensor Zeros(Device device, params ReadOnlySpan<int> shape) =>
        new(device, shape.ToArray(), CheckedLength(shape));

    public static Tensor Full(float value, params ReadOnlySpan<int> shape)
    {
        var t = Zeros(shape);
        Array.Fill(t._data!, value);
        return t;
    }

    public static Tensor FromArray(ReadOnlySpan<float> values, params ReadOnlySpan<int> shape) =>
        FromArray(Device.Cpu, values, shape);

    public static Tensor FromArray(Device device, ReadOnlySpan<float> values, params ReadOnlySpan<int> shape)
    {
        var length = CheckedLength(shape);
        if (values.Length != length)
            throw new ArgumentException(
                $"{values.Length} values do not fill a tensor of shape {Format(shape)} ({length} elements).",
                nameof(values));
        if (device.IsCpu) return new Tensor(values.ToArray(), null, shape.ToArray(), device);
        var tensor = new Tensor(device, shape.ToArray(), length);
        tensor.CopyFrom(values);
        return tensor;
    }

    public static Tensor Scalar(float value) => FromArray([value]);
    public static Tensor ZerosLike(Tensor other) => Zeros(other.Device, other._shape);

    /// <summary>The elements in place; CPU tensors only.</summary>
    public Span<float> AsSpan() => _data ?? throw OnDevice("AsSpan()");

    // The storage array itself, for backends that hand slices of it to worker threads.
    internal float[] Data => _data ?? throw OnDevice("Its host array");

    internal DeviceMemory<float> Memory => _memory ?? throw new InvalidOperationException(
        $"This tensor lives on {Device}, not on a GPU; move it with Module.To or Tensor.To first.");

    /// <summary>A copy of the elements; for a GPU tensor this waits for the device.</summary>
    public float[] ToArray()
    {
        if (_data is not null) return (float[])_data.Clone();
        var values = new float[_memory!.Length];
        _memory.CopyToHost(values);
        return values;
    }

    /// <summary>Waits for a GPU.</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length < Length)
            throw new ArgumentException(
                $"A destination of {destination.Length} elements cannot hold a tensor of shape {Format(_shape)}.",
                nameof(destination));
        if (_data is not null) _data.CopyTo(destination);
        else _memory!.CopyToHost(destination[..Length]);
    }

    /// <summary>Copies on the device that holds both (queued on a GPU, without waiting).</summary>
    public void CopyInto(Tensor destination, int offset)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Device.IsCpu != Device.IsCpu || destination.Device.Backend != Device.Backend && !Device.IsCpu)
            throw new ArgumentException(
                $"CopyInto needs both tensors on one device, not {Device} and {destination.Device}.",
                nameof(destination));
        if (offset < 0 || offset > destination.Length - Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"{Length} elements do not fit into {destination.Length} from element {offset}.");
        if (_data is not null) _data.CopyTo(destination._data.AsSpan(offset));
        else _memory!.CopyTo(destination._memory!, offset);
    }

    // The storage itself on the CPU, a fresh host copy for a GPU tensor.
    internal ReadOnlySpan<float> HostValues() => _data ?? ToArray();

    public void CopyFrom(ReadOnlySpan<float> values)
    {
        if (values.Length != Length)
            throw new ArgumentException(
                $"{values.Length} values do not fill a tensor of shape {Format(_shape)} ({Length} elements).",
                nameof(values));
        if (_data is not null) values.CopyTo(_data);
        else _memory!.CopyFromHost(values);
    }

    /// <summary>A copy on <paramref name="device"/>, not recorded for autograd.</summary>
    public Tensor To(Device device) => FromArray(device, _data ?? ToArray(), _shape);

    // Moves the storage and any gradient in place, keeping the values.
    internal void MoveTo(Device device)
    {
        if (device == Device) return;
        if (!(device.IsCpu && Device.IsCpu))
        {
            var values = _data ?? ToArray();
            (_data, _memory) = device.IsCpu
                ? (values, (DeviceMemory<float>?)null)
                : ((float[]?)null, device.Backend.Allocate<float>(values.Length));
            _memory?.CopyFromHost(values);
            _spareGrad = null;
        }
        Device = device;
        Grad?.MoveTo(device);
    }

    /// <summary>Waits for a GPU.</summary>
    public float Item()
    {
        if (Length != 1)
            throw new InvalidOperationException($"Item() needs a tensor of one element, not shape {Format(_shape)}.");
        if (_data is not null) return _data[0];
        Span<float> value = stackalloc float[1];
        _memory!.CopyToHost(value);
        return value[0];
    }

    private InvalidOperationException OnDevice(string what) =>
        new($"{what} is not available for a tensor on {Device}: its elements live in device memory. " +
            "Copy them to the host with ToArray(), or write them with CopyFrom().");

    /// <summary>A view with another shape, recorded for autograd; one dimension may be −1 (inferred).</summary>
    public Tensor Reshape(params ReadOnlySpan<int> shape)
    {
        Span<int> resolved = stackalloc int[shape.Length];
        shape.CopyTo(resolved);
        var inferred = resolved.IndexOf(-1);
        if (inferred >= 0)
        {
            var known = 1;
            for (var i = 0; i < resolved.Length; i++) if (i != inferred) known *= resolved[i];
            if (known <= 0 || Length % known != 0)
                throw new ArgumentException($"Cannot reshape {Format(_shape)} to {Format(shape)}.");
            resolved[inferred] = Length / known;
        }
        if (CheckedLength(resolved) != Length)
            throw new ArgumentException($"Cannot reshape {Format(_shape)} ({Length} elements) to {Format(shape)}.");
        var view = Workspace.View(this, resolved);
        if (GradientTape.ShouldRecord(this))
            GradientTape.Record(view, Workspace.Node<ReshapeBackward>().Set(this), this);
        return view;
    }

    // No checks: for Workspace.
    internal Tensor ViewAs(ReadOnlySpan<int> shape) => new(_data, _memory, shape.ToArray(), Device);
    internal bool Is(Device device, ReadOnlySpan<int> shape) => Device == device && shape.SequenceEqual(_shape);

    // True when the elements share memory, in part or in whole.
    internal bool Overlaps(Tensor other) =>
        _data is not null ? _data == other._data : other._memory is not null && _memory!.Overlaps(other._memory);

    internal bool IsViewOf(Tensor other, ReadOnlySpan<int> shape) =>
        Device == other.Device && shape.SequenceEqual(_shape) &&
        (_data is not null ? _data == other._data : other._memory is not null && _memory!.StartsWith(other._memory));

    // Moves the storage of distinct tensors on one GPU into consecutive slices of one new buffer, keeping their values,
    // so that one launch over the returned flat tensor updates them all. Null (nothing changed) on the CPU, on
    // different devices, or when not distinct.
    internal static Tensor? Pack(ReadOnlySpan<Tensor> tensors)
    {
        if (tensors.IsEmpty || tensors[0].Device.IsCpu) return null;
        var device = tensors[0].Device;
        var distinct = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        long total = 0;
        foreach (var tensor in tensors)
        {
            if (tensor.Device != device || !distinct.Add(tensor)) return null;
            total += tensor.Length;
        }
        if (total > Array.MaxLength) return null;
        var flat = new Tensor(device, [(int)total], (int)total);
        var offset = 0;
        foreach (var tensor in tensors)
        {
            tensor.CopyInto(flat, offset);
            (tensor._memory, tensor._spareGrad) = (flat._memory!.Slice(offset, tensor.Length), null);
            offset += tensor.Length;
        }
        return flat;
    }

    internal bool IsPackedIn(Tensor flat) =>
        _memory is not null && flat._memory is not null && _memory.SameAllocation(flat._memory);

    /// <summary>Shares this tensor's storage, cut from the graph.</summary>
    public Tensor Detach() => new(_data, _memory, _shape, Device);
    /// <summary>From this scalar: adds ∂this/∂leaf to the Grad of every leaf that requires it.</summary>
    public void Backward() => GradientTape.Backward(this);
    public void ZeroGrad() => Grad?.Device.Backend.Zero(Grad);

    // The gradient buffer for the first writer in a backward pass: the one an earlier pass released (stale: to be
    // overwritten), else a new one (zeros: to be added to).
    internal (Tensor Buffer, bool Stale) TakeGradBuffer()
    {
        var spare = _spareGrad is { } kept && kept.Device == Device ? kept : null;
        _spareGrad = null;
        Grad = spare ?? Zeros(Device, _shape);
        return (Grad, spare is not null);
    }

    // The gradient is storage another tensor owns (GradientTape.Pass).
    internal void AdoptGrad(Tensor gradient) => (Grad, _gradAdopted) = (gradient, true);

    // After backward used an intermediate's gradient: keeps its own buffer for reuse.
    internal void ReleaseGrad()
    {
        if (!_gradAdopted) _spareGrad = Grad;
        (Grad, _gradAdopted) = (null, false);
    }

    public override string ToString() => $"Tensor{Format(_shape)} on {Device}{(RequiresGrad ? ", requires grad" : "")}";
    /// <summary>E.g. "[64, 1, 32, 32]".</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    private static int CheckedLength(ReadOnlySpan<int> shape)
    {
        long length = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.");
            length *= d;
            if (length > Array.MaxLength)
                throw new ArgumentException($"Shape {Format(shape)} is too large for one tensor.");
        }
        return (int)length;
    }

    private sealed class ReshapeBackward : Node
    {
        private Tensor _input = null!;

        public ReshapeBackward Set(Tensor input)
        {
            _input = input;
            return this;
        }

        // The input's gradient is this one reshaped: handed over without a copy where it is the first.
        public override void Backward(Tensor outputGrad) =>
            GradientTape.Pass(_input, Workspace.View(outputGrad, _input.Shape));

        // The device's constant one must not become a gradient that later writers add to.
        public override void BackwardFromOne(Device device)
        {
            if (GradientTape.Target(_input) is { } target) device.Backend.AddScalar(target, 1f);
        }
    }
}
