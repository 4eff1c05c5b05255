// The SIMD width abstraction of the elementwise CPU kernels: each kernel body is written once, generic over a vector
// type TV and its operations TS (Vector512, Vector256 or Vector128 of float), and instantiated per width at dispatch.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Which vector width the elementwise kernels use, and the thread split they share. The width is the widest one the
/// hardware accelerates, unless the calling thread set <see cref="WidthOverride"/> (tests use it to exercise the
/// narrower paths without disturbing kernels called from other threads).
/// </summary>
internal static class ElementwiseSimd
{
    /// <summary>Per-thread override of the vector width in bits (512, 256 or 128); 0 means "the widest
    /// accelerated".</summary>
    [ThreadStatic] internal static int WidthOverride;

    private static readonly int Widest =
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;

    /// <summary>The width the calling thread's kernels use, in bits.</summary>
    public static int Width => WidthOverride != 0 ? Math.Min(WidthOverride, Widest) : Widest;

    /// <summary>The widest width, no wider than <see cref="Width"/>, whose float count fits in <paramref name="count"/>
    /// (128 at least).</summary>
    public static int WidthFor(int count)
    {
        int width = Width;
        while (width > 128 && width / 32 > count) width /= 2;
        return width;
    }

    /// <summary>
    /// Below this many elements (256 KB of floats) a pass runs on one thread: a split costs a few µs (waking and
    /// joining the workers), which a memory-bound pass over fewer values does not earn back. LeNet's batch-64
    /// activations (102,400 and 301,056 values) are split; its fully connected ones are not.
    /// </summary>
    public const int MinParallelElements = 1 << 16;

    /// <summary>How many parts to split <paramref name="items"/> independent items (planes, chunks) holding
    /// <paramref name="elements"/> values into.</summary>
    public static int Parts(int items, long elements) =>
        Workers.ThreadCount == 1 || elements < MinParallelElements ? 1 : Math.Min(items, Workers.ThreadCount * 4);

    /// <summary>Flat elementwise passes split into chunks of this many floats (a multiple of every vector
    /// width).</summary>
    public const int Chunk = 16 * 1024;

    /// <summary>Parts for a flat pass over <paramref name="length"/> values, each <paramref name="chunk"/> long (the
    /// last shorter).</summary>
    public static int FlatParts(int length, out int chunk)
    {
        if (Workers.ThreadCount == 1 || length < MinParallelElements)
        {
            chunk = Math.Max(length, 1);
            return length == 0 ? 0 : 1;
        }
        chunk = Chunk;
        return (length + Chunk - 1) / Chunk;
    }
}

/// <summary>The float vector operations the elementwise kernels need, for one vector type.</summary>
internal unsafe interface IElementwiseSimd<TV> where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Zero { get; }
    static abstract TV Splat(float value);
    static abstract TV Load(float* source);
    static abstract void Store(float* destination, TV value);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract TV Divide(TV a, TV b);
    /// <summary>a·b + c, fused (one rounding).</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);
    static abstract TV Sqrt(TV a);
    /// <summary>All-ones lanes where a &gt; b (false where either is NaN).</summary>
    static abstract TV GreaterThan(TV a, TV b);
    /// <summary>All-ones lanes where a &lt; b (false where either is NaN).</summary>
    static abstract TV LessThan(TV a, TV b);
    /// <summary>All-ones lanes where a is NaN.</summary>
    static abstract TV IsNaN(TV a);
    static abstract TV Or(TV a, TV b);
    /// <summary>mask ? ifTrue : ifFalse, bitwise.</summary>
    static abstract TV Select(TV mask, TV ifTrue, TV ifFalse);
    static abstract float Sum(TV a);

    /// <summary>A vector whose lanes hold the bits of the int32 value.</summary>
    static abstract TV SplatInt32(int value);
    /// <summary>Lanes hold the int32 values start, start + step, ... (as bits).</summary>
    static abstract TV SequenceInt32(int start, int step);
    /// <summary>Lane-wise int32 addition of the bits.</summary>
    static abstract TV AddInt32(TV a, TV b);
    static abstract void StoreInt32(int* destination, TV value);

    static abstract TV Floor(TV a);
    static abstract TV Min(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    /// <summary>source[indices[lane]] per lane, the indices held as whole float values (exact below 2²⁴).</summary>
    static abstract TV Gather(float* source, TV indices);

    /// <summary>Splits the 2·Count consecutive values lo, hi into their even- and odd-indexed ones.</summary>
    static abstract void Deinterleave(TV lo, TV hi, out TV even, out TV odd);
    /// <summary>The inverse of <see cref="Deinterleave"/>: lo = a₀ b₀ a₁ b₁ … of the lower halves, hi of the
    /// upper.</summary>
    static abstract void Interleave(TV a, TV b, out TV lo, out TV hi);
    /// <summary>The ints at source, as the bits of a float vector (for the *Int32 operations).</summary>
    static abstract TV LoadInt32(int* source);
    /// <summary>All-ones lanes where the ints of a and b are equal.</summary>
    static abstract TV EqualsInt32(TV a, TV b);
    /// <summary>All-ones lanes from lane <paramref name="first"/> on.</summary>
    static abstract TV LanesFrom(int first);
    /// <summary>Whether every lane of <paramref name="mask"/> is all ones.</summary>
    static abstract bool All(TV mask);
}

internal unsafe struct ElementwiseSimd512 : IElementwiseSimd<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Splat(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector512<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GreaterThan(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> IsNaN(Vector512<float> a) => ~Vector512.Equals(a, a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Or(Vector512<float> a, Vector512<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> ifTrue, Vector512<float> ifFalse) =>
        Vector512.ConditionalSelect(mask, ifTrue, ifFalse);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> a) => Vector512.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SplatInt32(int value) => Vector512.Create(value).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SequenceInt32(int start, int step) =>
        Vector512.CreateSequence(start, step).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddInt32(Vector512<float> a, Vector512<float> b) =>
        (a.AsInt32() + b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInt32(int* destination, Vector512<float> value) => value.AsInt32().Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Floor(Vector512<float> a) => Vector512.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gather(float* source, Vector512<float> indices) => Vector512.Create(
        ElementwiseSimd256.Gather(source, indices.GetLower()), ElementwiseSimd256.Gather(source, indices.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Vector512<float> lo, Vector512<float> hi, out Vector512<float> even,
        out Vector512<float> odd)
    {
        if (Avx512F.IsSupported)
        {
            even = Avx512F.PermuteVar16x32x2(lo, Vector512.CreateSequence(0, 2), hi);
            odd = Avx512F.PermuteVar16x32x2(lo, Vector512.CreateSequence(1, 2), hi);
        }
        else
        {
            ElementwiseSimd256.Deinterleave(lo.GetLower(), lo.GetUpper(), out var evenLo, out var oddLo);
            ElementwiseSimd256.Deinterleave(hi.GetLower(), hi.GetUpper(), out var evenHi, out var oddHi);
            even = Vector512.Create(evenLo, evenHi);
            odd = Vector512.Create(oddLo, oddHi);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadInt32(int* source) => Vector512.Load(source).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> EqualsInt32(Vector512<float> a, Vector512<float> b) =>
        Vector512.Equals(a.AsInt32(), b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LanesFrom(int first) =>
        Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(first)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool All(Vector512<float> mask) => Vector512.EqualsAll(mask.AsInt32(), Vector512<int>.AllBitsSet);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vector512<float> a, Vector512<float> b, out Vector512<float> lo,
        out Vector512<float> hi)
    {
        if (Avx512F.IsSupported)
        {
            lo = Avx512F.PermuteVar16x32x2(a,
                Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
            hi = Avx512F.PermuteVar16x32x2(a,
                Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), b);
        }
        else
        {
            ElementwiseSimd256.Interleave(a.GetLower(), b.GetLower(), out var l0, out var l1);
            ElementwiseSimd256.Interleave(a.GetUpper(), b.GetUpper(), out var h0, out var h1);
            lo = Vector512.Create(l0, l1);
            hi = Vector512.Create(h0, h1);
        }
    }
}

internal unsafe struct ElementwiseSimd256 : IElementwiseSimd<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Splat(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector256<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GreaterThan(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> IsNaN(Vector256<float> a) => ~Vector256.Equals(a, a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Or(Vector256<float> a, Vector256<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> ifTrue, Vector256<float> ifFalse) =>
        Vector256.ConditionalSelect(mask, ifTrue, ifFalse);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> a) => Vector256.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SplatInt32(int value) => Vector256.Create(value).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SequenceInt32(int start, int step) =>
        Vector256.CreateSequence(start, step).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddInt32(Vector256<float> a, Vector256<float> b) =>
        (a.AsInt32() + b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInt32(int* destination, Vector256<float> value) => value.AsInt32().Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Floor(Vector256<float> a) => Vector256.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gather(float* source, Vector256<float> indices)
    {
        if (Avx2.IsSupported) return Avx2.GatherVector256(source, Vector256.ConvertToInt32(indices), 4);
        return Vector256.Create(ElementwiseSimd128.Gather(source, indices.GetLower()),
            ElementwiseSimd128.Gather(source, indices.GetUpper()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Vector256<float> lo, Vector256<float> hi, out Vector256<float> even,
        out Vector256<float> odd)
    {
        if (Avx2.IsSupported)
        {
            // Gather evens into the low 128 bits and odds into the high ones of each, then swap halves across.
            var order = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
            var l = Avx2.PermuteVar8x32(lo, order);
            var h = Avx2.PermuteVar8x32(hi, order);
            even = Avx.Permute2x128(l, h, 0x20);
            odd = Avx.Permute2x128(l, h, 0x31);
        }
        else
        {
            ElementwiseSimd128.Deinterleave(lo.GetLower(), lo.GetUpper(), out var evenLo, out var oddLo);
            ElementwiseSimd128.Deinterleave(hi.GetLower(), hi.GetUpper(), out var evenHi, out var oddHi);
            even = Vector256.Create(evenLo, evenHi);
            odd = Vector256.Create(oddLo, oddHi);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadInt32(int* source) => Vector256.Load(source).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> EqualsInt32(Vector256<float> a, Vector256<float> b) =>
        Vector256.Equals(a.AsInt32(), b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LanesFrom(int first) =>
        Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(first)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool All(Vector256<float> mask) => Vector256.EqualsAll(mask.AsInt32(), Vector256<int>.AllBitsSet);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vector256<float> a, Vector256<float> b, out Vector256<float> lo,
        out Vector256<float> hi)
    {
        if (Avx.IsSupported)
        {
            // Pairs within each 128-bit half, then the halves put in order.
            var low = Avx.UnpackLow(a, b);
            var high = Avx.UnpackHigh(a, b);
            lo = Avx.Permute2x128(low, high, 0x20);
            hi = Avx.Permute2x128(low, high, 0x31);
        }
        else
        {
            ElementwiseSimd128.Interleave(a.GetLower(), b.GetLower(), out var l0, out var l1);
            ElementwiseSimd128.Interleave(a.GetUpper(), b.GetUpper(), out var h0, out var h1);
            lo = Vector256.Create(l0, l1);
            hi = Vector256.Create(h0, h1);
        }
    }
}

internal unsafe struct ElementwiseSimd128 : IElementwiseSimd<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Splat(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(float* source) => Vector128.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector128<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> IsNaN(Vector128<float> a) => ~Vector128.Equals(a, a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Or(Vector128<float> a, Vector128<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> ifTrue, Vector128<float> ifFalse) =>
        Vector128.ConditionalSelect(mask, ifTrue, ifFalse);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> a) => Vector128.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SplatInt32(int value) => Vector128.Create(value).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SequenceInt32(int start, int step) =>
        Vector128.CreateSequence(start, step).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> AddInt32(Vector128<float> a, Vector128<float> b) =>
        (a.AsInt32() + b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInt32(int* destination, Vector128<float> value) => value.AsInt32().Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Floor(Vector128<float> a) => Vector128.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Gather(float* source, Vector128<float> indices)
    {
        var at = Vector128.ConvertToInt32(indices);
        if (Avx2.IsSupported) return Avx2.GatherVector128(source, at, 4);
        return Vector128.Create(source[at[0]], source[at[1]], source[at[2]], source[at[3]]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Vector128<float> lo, Vector128<float> hi, out Vector128<float> even,
        out Vector128<float> odd)
    {
        if (Sse.IsSupported)
        {
            even = Sse.Shuffle(lo, hi, 0b10_00_10_00);
            odd = Sse.Shuffle(lo, hi, 0b11_01_11_01);
        }
        else
        {
            even = Vector128.Create(lo.GetElement(0), lo.GetElement(2), hi.GetElement(0), hi.GetElement(2));
            odd = Vector128.Create(lo.GetElement(1), lo.GetElement(3), hi.GetElement(1), hi.GetElement(3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadInt32(int* source) => Vector128.Load(source).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> EqualsInt32(Vector128<float> a, Vector128<float> b) =>
        Vector128.Equals(a.AsInt32(), b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LanesFrom(int first) =>
        Vector128.GreaterThanOrEqual(Vector128<int>.Indices, Vector128.Create(first)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool All(Vector128<float> mask) => Vector128.EqualsAll(mask.AsInt32(), Vector128<int>.AllBitsSet);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vector128<float> a, Vector128<float> b, out Vector128<float> lo,
        out Vector128<float> hi)
    {
        if (Sse.IsSupported)
        {
            lo = Sse.UnpackLow(a, b);
            hi = Sse.UnpackHigh(a, b);
        }
        else
        {
            lo = Vector128.Create(a.GetElement(0), b.GetElement(0), a.GetElement(1), b.GetElement(1));
            hi = Vector128.Create(a.GetElement(2), b.GetElement(2), a.GetElement(3), b.GetElement(3));
        }
    }
}

/// <summary>A per-element map applied to values as a kernel loads them (identity, or BatchNorm then ReLU in the fused
/// pooling).</summary>
internal interface IElementwiseTransform<TV> where TV : struct
{
    TV Apply(TV value);
    /// <summary>The same map on one value, bit-identical to a lane of the vector form (tails use it).</summary>
    float Apply(float value);
}

/// <summary>The identity map.</summary>
internal readonly struct ElementwiseIdentity<TV> : IElementwiseTransform<TV> where TV : struct
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public TV Apply(TV value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float value) => value;
}
