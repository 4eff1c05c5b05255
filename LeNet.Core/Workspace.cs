using LeNet.Core.Autograd;

namespace LeNet.Core;

/// <summary>
/// Lets a loop that repeats the same computation (a training step, an evaluation batch) reuse the tensors, saved
/// indices and graph nodes of one iteration in the next, so that in steady state it allocates nothing.
/// </summary>
/// <remarks>
/// Inside Begin's scope, the n-th request for an output is served by the object that served the n-th request of the
/// previous iteration, when its shape matches (two shapes are kept per slot, so a last, smaller batch does not evict
/// the full-batch buffers). The price: a tensor produced inside the scope is valid only until the same request in the
/// next iteration overwrites it; copy out what must outlive it. Without a scope, operations allocate as usual.
/// A workspace belongs to one thread at a time.
/// </remarks>
public sealed class Workspace
{
    [ThreadStatic] private static Workspace? _current;

    private readonly Slots<Tensor> _tensors = new();
    private readonly Slots<int[]> _ints = new();
    private readonly Slots<DeviceIndices> _deviceInts = new();
    private readonly Slots<object> _objects = new();
    private bool _active;

    public Scope Begin()
    {
        if (_active)
            throw new InvalidOperationException(
                "This workspace is already in use; end the previous iteration's scope first.");
        _active = true;
        _tensors.Rewind();
        _ints.Rewind();
        _deviceInts.Rewind();
        _objects.Rewind();
        var outer = _current;
        _current = this;
        return new Scope(this, outer);
    }

    /// <summary>Ends an iteration, restoring any outer workspace.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly Workspace _workspace;
        private readonly Workspace? _outer;

        internal Scope(Workspace workspace, Workspace? outer) => (_workspace, _outer) = (workspace, outer);

        public void Dispose()
        {
            if (_workspace is null) return;
            _workspace._active = false;
            _current = _outer;
        }
    }

    // Inside a scope the contents are undefined; outside, a new tensor of zeros.
    internal static Tensor Tensor(Device device, ReadOnlySpan<int> shape)
    {
        if (_current is not { } workspace) return Core.Tensor.Zeros(device, shape);
        ref var slot = ref workspace._tensors.Next();
        if (slot.Recent is { } recent && recent.Is(device, shape)) return Recycled(recent);
        if (slot.Older is { } older && older.Is(device, shape)) return Recycled(slot.Promote());
        return slot.Replace(Core.Tensor.Zeros(device, shape));
    }

    internal static Tensor View(Tensor source, ReadOnlySpan<int> shape)
    {
        if (_current is not { } workspace) return source.ViewAs(shape);
        ref var slot = ref workspace._tensors.Next();
        if (slot.Recent is { } recent && recent.IsViewOf(source, shape)) return Recycled(recent);
        if (slot.Older is { } older && older.IsViewOf(source, shape)) return Recycled(slot.Promote());
        return slot.Replace(source.ViewAs(shape));
    }

    // A reused tensor is a fresh output: it must not carry the graph or a gradient of the previous iteration.
    private static Tensor Recycled(Tensor tensor)
    {
        (tensor.GradFn, tensor.RequiresGrad) = (null, false);
        if (tensor.Grad is not null) tensor.ReleaseGrad();
        return tensor;
    }

    internal static int[] Ints(int length)
    {
        if (_current is not { } workspace) return new int[length];
        ref var slot = ref workspace._ints.Next();
        if (slot.Recent is { } recent && recent.Length == length) return recent;
        if (slot.Older is { } older && older.Length == length) return slot.Promote();
        return slot.Replace(new int[length]);
    }

    internal static Indices Indices(Device device, int length)
    {
        if (device.IsCpu) return Ints(length);
        if (_current is not { } workspace) return Core.Indices.Allocate(device, length);
        ref var slot = ref workspace._deviceInts.Next();
        if (slot.Recent is { } recent && recent.Is(device, length)) return recent.Indices;
        if (slot.Older is { } older && older.Is(device, length)) return slot.Promote().Indices;
        return slot.Replace(new DeviceIndices(device, Core.Indices.Allocate(device, length))).Indices;
    }

    private sealed class DeviceIndices(Device device, Core.Indices indices)
    {
        public Core.Indices Indices { get; } = indices;
        public bool Is(Device other, int length) => other == device && Indices.Length == length;
    }

    internal static T Node<T>() where T : Node, new() => Object<T>();

    // A node or what a forward saves, to be filled in by the operation that asked.
    internal static T Object<T>() where T : class, new()
    {
        if (_current is not { } workspace) return new T();
        ref var slot = ref workspace._objects.Next();
        if (slot.Recent is T recent) return recent;
        if (slot.Older is T) return (T)slot.Promote();
        return (T)slot.Replace(new T());
    }

    // The objects handed out in request order, two per request position.
    private sealed class Slots<T> where T : class
    {
        private Slot<T>[] _slots = new Slot<T>[64];
        private int _next;

        public void Rewind() => _next = 0;

        public ref Slot<T> Next()
        {
            if (_next == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
            return ref _slots[_next++];
        }
    }

    private struct Slot<T> where T : class
    {
        public T? Recent, Older;

        public T Promote()
        {
            (Recent, Older) = (Older, Recent);
            return Recent!;
        }

        public T Replace(T value)
        {
            Older = Recent;
            return Recent = value;
        }
    }
}
