using LeNet.Core.Autograd;

namespace LeNet.Core;

/// <summary>
/// A dense, contiguous, row-major float32 array with a shape, living on one <see cref="Device"/>, that can record
/// the operations producing it so that <see cref="Backward"/> can compute gradients.
/// </summary>
public sealed class Tensor
{
    private readonly float[] _data;
    private readonly int[] _shape;

    private Tensor(float[] data, int[] shape, Device device)
    {
        _data = data;
        _shape = shape;
        Device = device;
    }

    /// <summary>The sizes of the dimensions, e.g. [N, C, H, W]. A scalar has rank 0.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length => _data.Length;

    public Device Device { get; }

    /// <summary>When true, operations on this tensor are recorded and <see cref="Grad"/> receives its gradient.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Accumulated gradient of the last backward passes (for leaves), or null before any.</summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>The operation that produced this tensor, when it was recorded; null for leaves.</summary>
    internal Node? GradFn { get; set; }

    public bool IsLeaf => GradFn is null;

    public int Size(int dimension) => _shape[dimension < 0 ? dimension + _shape.Length : dimension];

    public static Tensor Zeros(params int[] shape) => new(new float[CheckedLength(shape)], (int[])shape.Clone(), Device.Cpu);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Zeros(shape);
        Array.Fill(t._data, value);
        return t;
    }

    /// <summary>Copies <paramref name="values"/> into a new tensor of the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        var length = CheckedLength(shape);
        if (values.Length != length)
            throw new ArgumentException($"{values.Length} values do not fill a tensor of shape {Format(shape)} ({length} elements).", nameof(values));
        return new Tensor(values.ToArray(), (int[])shape.Clone(), Device.Cpu);
    }

    public static Tensor Scalar(float value) => FromArray([value]);

    public static Tensor ZerosLike(Tensor other) => Zeros(other._shape);

    /// <summary>The elements, for reading and writing in place (CPU tensors).</summary>
    public Span<float> AsSpan() => _data;

    /// <summary>The storage array itself, for backends that hand slices of it to worker threads.</summary>
    internal float[] Data => _data;

    public float[] ToArray() => (float[])_data.Clone();

    /// <summary>The value of a one-element tensor.</summary>
    public float Item() => _data.Length == 1
        ? _data[0]
        : throw new InvalidOperationException($"Item() needs a tensor of one element, not shape {Format(_shape)}.");

    /// <summary>A tensor of another shape over the same elements (and the same storage), recorded for autograd.</summary>
    public Tensor Reshape(params int[] shape)
    {
        shape = (int[])shape.Clone();
        var inferred = Array.IndexOf(shape, -1);
        if (inferred >= 0)
        {
            var known = 1;
            for (var i = 0; i < shape.Length; i++) if (i != inferred) known *= shape[i];
            if (known <= 0 || Length % known != 0)
                throw new ArgumentException($"Cannot reshape {Format(_shape)} to {Format(shape)}.");
            shape[inferred] = Length / known;
        }
        if (CheckedLength(shape) != Length)
            throw new ArgumentException($"Cannot reshape {Format(_shape)} ({Length} elements) to {Format(shape)}.");
        var view = new Tensor(_data, shape, Device);
        GradientTape.Record(view, new ReshapeBackward(this), this);
        return view;
    }

    /// <summary>A tensor sharing this one's storage but cut from the graph: no gradient flows through it.</summary>
    public Tensor Detach() => new(_data, _shape, Device);

    /// <summary>Back-propagates from this scalar: adds ∂this/∂leaf to the <see cref="Grad"/> of every leaf that requires it.</summary>
    public void Backward() => GradientTape.Backward(this);

    /// <summary>Sets the gradient to zero in place (keeping its storage), if there is one.</summary>
    public void ZeroGrad() => Grad?.AsSpan().Clear();

    /// <summary>The gradient buffer, created zeroed on first use; backward kernels accumulate into it.</summary>
    internal Tensor GradOrZeros() => Grad ??= Zeros(_shape);

    public override string ToString() => $"Tensor{Format(_shape)} on {Device}{(RequiresGrad ? ", requires grad" : "")}";

    /// <summary>A shape as text, e.g. "[64, 1, 32, 32]".</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    private static int CheckedLength(int[] shape)
    {
        long length = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.");
            length *= d;
            if (length > Array.MaxLength) throw new ArgumentException($"Shape {Format(shape)} is too large for one tensor.");
        }
        return (int)length;
    }

    private sealed class ReshapeBackward(Tensor input) : Node
    {
        public override void Backward(Tensor outputGrad)
        {
            if (input.RequiresGrad) input.Device.Backend.Accumulate(outputGrad, input.GradOrZeros());
        }
    }
}
