using LeNet.Core.Autograd;

namespace LeNet.Core;

/// <summary>
/// A dense, contiguous, row-major float32 array with a shape, living on one <see cref="Device"/>, that can record
/// the operations producing it so that <see cref="Backward"/> can compute gradients.
/// </summary>
/// <remarks>
/// A CPU tensor keeps its elements in a managed array (<see cref="AsSpan"/>); a GPU tensor in device memory
/// (<see cref="DeviceMemory{T}"/>), read with <see cref="ToArray"/> or <see cref="Item"/>, which wait for the device,
/// and written with <see cref="CopyFrom"/>.
/// </remarks>
public sealed class Tensor
{
    private float[]? _data;
    private DeviceMemory<float>? _memory;
    private readonly int[] _shape;

    // The gradient buffer of an earlier backward pass, kept for the next one (see TakeGradBuffer).
    private Tensor? _spareGrad;

    // Grad is another tensor's storage (GradientTape.Pass): dropped on release, never kept as the spare.
    private bool _gradAdopted;

    private Tensor(float[]? data, DeviceMemory<float>? memory, int[] shape, Device device)
    {
        (_data, _memory, _shape) = (data, memory, shape);
        Device = device;
    }

    private Tensor(Device device, int[] shape, int length)
    {
        _shape = shape;
        Device = device;
        if (device.IsCpu) _data = new float[length];
        else _memory = device.Backend.Allocate<float>(length);
    }

    /// <summary>The sizes of the dimensions, e.g. [N, C, H, W]. A scalar has rank 0.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length => _data?.Length ?? _memory!.Length;

    /// <summary>
    /// The device whose backend runs operations on this tensor (see <see cref="Modules.Module.To"/>).
    /// </summary>
    public Device Device { get; private set; }

    /// <summary>
    /// When true, operations on this tensor are recorded and <see cref="Grad"/> receives its gradient.
    /// </summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Accumulated gradient of the last backward passes (for leaves), or null before any.</summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>The operation that produced this tensor, when it was recorded; null for leaves.</summary>
    internal Node? GradFn { get; set; }

    public bool IsLeaf => GradFn is null;

    public int Size(int dimension) => _shape[dimension < 0 ? dimension + _shape.Length : dimension];

    /// <summary>A new tensor of zeros on the CPU.</summary>
    public static Tensor Zeros(params ReadOnlySpan<int> shape) => Zeros(Device.Cpu, shape);

    /// <summary>A new tensor of zeros on the given device.</summary>
    public static Tensor Zeros(Device device, params ReadOnlySpan<int> shape) =>
        new(device, shape.ToArray(), CheckedLength(shape));

    public static Tensor Full(float value, params ReadOnlySpan<int> shape)
    {
        var t = Zeros(shape);
        Array.Fill(t._data!, value);
        return t;
    }

    /// <summary>Copies <paramref name="values"/> into a new CPU tensor of the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params ReadOnlySpan<int> shape) =>
        FromArray(Device.Cpu, values, shape);

    /// <summary>Copies <paramref name="values"/> into a new tensor of the given shape on the given device.</summary>
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

    /// <summary>A new tensor of zeros with the shape and device of another.</summary>
    public static Tensor ZerosLike(Tensor other) => Zeros(other.Device, other._shape);

    /// <summary>
    /// The elements, for reading and writing in place (CPU tensors only: read a GPU tensor with <see cref="ToArray"/>).
    /// </summary>
    public Span<float> AsSpan() => _data ?? throw OnDevice("AsSpan()");

    /// <summary>The storage array itself, for backends that hand slices of it to worker threads.</summary>
    internal float[] Data => _data ?? throw OnDevice("Its host array");

    /// <summary>The device memory of a GPU tensor, for that device's backend.</summary>
    internal DeviceMemory<float> Memory => _memory ?? throw new InvalidOperationException(
        $"This tensor lives on {Device}, not on a GPU; move it with Module.To or Tensor.To first.");

    /// <summary>
    /// A copy of the elements in a new array; for a GPU tensor this waits for the device and copies back.
    /// </summary>
    public float[] ToArray()
    {
        if (_data is not null) return (float[])_data.Clone();
        var values = new float[_memory!.Length];
        _memory.CopyToHost(values);
        return values;
    }

    /// <summary>
    /// Copies the elements into <paramref name="destination"/> (at least <see cref="Length"/> long); waits for a GPU.
    /// </summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length < Length)
            throw new ArgumentException(
                $"A destination of {destination.Length} elements cannot hold a tensor of shape {Format(_shape)}.",
                nameof(destination));
        if (_data is not null) _data.CopyTo(destination);
        else _memory!.CopyToHost(destination[..Length]);
    }

    /// <summary>
    /// Copies the elements into <paramref name="destination"/> from element <paramref name="offset"/> on, on the device
    /// that holds both (queued on a GPU, without waiting).
    /// </summary>
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

    /// <summary>The elements for reading: the storage itself on the CPU, a fresh host copy for a GPU tensor.</summary>
    internal ReadOnlySpan<float> HostValues() => _data ?? ToArray();

    /// <summary>Overwrites every element with <paramref name="values"/> (uploading them for a GPU tensor).</summary>
    public void CopyFrom(ReadOnlySpan<float> values)
    {
        if (values.Length != Length)
            throw new ArgumentException(
                $"{values.Length} values do not fill a tensor of shape {Format(_shape)} ({Length} elements).",
                nameof(values));
        if (_data is not null) values.CopyTo(_data);
        else _memory!.CopyFromHost(values);
    }

    /// <summary>A copy of this tensor's values on <paramref name="device"/> (not recorded for autograd).</summary>
    public Tensor To(Device device) => FromArray(device, _data ?? ToArray(), _shape);

    /// <summary>
    /// Moves the storage (and any gradient) to <paramref name="device"/> in place, keeping the values.
    /// </summary>
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

    /// <summary>The value of a one-element tensor (for a GPU tensor, read back after the device finishes).</summary>
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

    /// <summary>
    /// A tensor of another shape over the same elements (and the same storage), recorded for autograd.
    /// </summary>
    /// <remarks>One dimension may be −1: it is inferred from the others.</remarks>
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

    /// <summary>
    /// A new tensor over the same storage with the given shape (no checks; for <see cref="Workspace"/>).
    /// </summary>
    internal Tensor ViewAs(ReadOnlySpan<int> shape) => new(_data, _memory, shape.ToArray(), Device);

    /// <summary>True when this tensor has exactly this device and shape.</summary>
    internal bool Is(Device device, ReadOnlySpan<int> shape) => Device == device && shape.SequenceEqual(_shape);

    /// <summary>
    /// True when this tensor's elements and <paramref name="other"/>'s share memory, in part or in whole.
    /// </summary>
    internal bool Overlaps(Tensor other) => _data is not null
        ? _data == other._data
        : other._memory is not null && _memory!.Overlaps(other._memory);

    /// <summary>
    /// True when this tensor views the same storage as <paramref name="other"/> with exactly this shape.
    /// </summary>
    internal bool IsViewOf(Tensor other, ReadOnlySpan<int> shape) =>
        Device == other.Device && shape.SequenceEqual(_shape) &&
        (_data is not null ? _data == other._data : other._memory is not null && _memory!.StartsWith(other._memory));

    /// <summary>
    /// Moves the storage of <paramref name="tensors"/> (distinct, all on one GPU) into consecutive slices of one new
    /// buffer, keeping their values, and returns a flat tensor over that buffer, so that one launch can update them
    /// all. Null (and nothing changed) when they are on the CPU, on different devices, or not distinct.
    /// </summary>
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

    /// <summary>
    /// True while this tensor's storage is a slice of <paramref name="flat"/>'s (see <see cref="Pack"/>).
    /// </summary>
    internal bool IsPackedIn(Tensor flat) =>
        _memory is not null && flat._memory is not null && _memory.SameAllocation(flat._memory);

    /// <summary>A tensor sharing this one's storage but cut from the graph: no gradient flows through it.</summary>
    public Tensor Detach() => new(_data, _memory, _shape, Device);

    /// <summary>
    /// Back-propagates from this scalar: adds ∂this/∂leaf to the <see cref="Grad"/> of every leaf that requires it.
    /// </summary>
    public void Backward() => GradientTape.Backward(this);

    /// <summary>Sets the gradient to zero in place (keeping its storage), if there is one.</summary>
    public void ZeroGrad()
    {
        if (Grad is { } grad) grad.Device.Backend.Zero(grad);
    }

    /// <summary>
    /// Gives this tensor a gradient buffer for its first writer in a backward pass (<see cref="GradientTape.Target"/>):
    /// the one an earlier pass released (stale: to be overwritten), else a new one (zeros: to be added to).
    /// </summary>
    internal (Tensor Buffer, bool Stale) TakeGradBuffer()
    {
        var spare = _spareGrad is { } kept && kept.Device == Device ? kept : null;
        _spareGrad = null;
        Grad = spare ?? Zeros(Device, _shape);
        return (Grad, spare is not null);
    }

    /// <summary>
    /// Makes <paramref name="gradient"/>, storage another tensor owns, this tensor's gradient (<see
    /// cref="GradientTape.Pass"/>).
    /// </summary>
    internal void AdoptGrad(Tensor gradient) => (Grad, _gradAdopted) = (gradient, true);

    /// <summary>
    /// Drops the gradient of an intermediate tensor after backward used it, keeping its own buffer for reuse.
    /// </summary>
    internal void ReleaseGrad()
    {
        if (!_gradAdopted) _spareGrad = Grad;
        (Grad, _gradAdopted) = (null, false);
    }

    public override string ToString() => $"Tensor{Format(_shape)} on {Device}{(RequiresGrad ? ", requires grad" : "")}";

    /// <summary>A shape as text, e.g. "[64, 1, 32, 32]".</summary>
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
