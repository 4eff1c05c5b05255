using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Float vectors of one width TV (Vector512, Vector256 or Vector128 of float), so that a hot loop is written once and
/// instantiated per width: TV is a struct, so the JIT compiles each instantiation separately and drops the branches
/// that do not match it. <see cref="Dispatch"/> picks the widest width the machine accelerates.
/// </summary>
internal static unsafe class SimdVector
{
    /// <summary>The width the public kernels use: 512 where accelerated, else 256, else 128 (software where need
    /// be).</summary>
    public static readonly int Dispatch =
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Count<TV>() where TV : struct =>
        typeof(TV) == typeof(Vector512<float>) ? 16 : typeof(TV) == typeof(Vector256<float>) ? 8 : 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TV>(float* source) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Load(source));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Load(source));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Load(source));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TV>(float* destination, TV value) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) Unsafe.BitCast<TV, Vector512<float>>(value).Store(destination);
        else if (typeof(TV) == typeof(Vector256<float>)) Unsafe.BitCast<TV, Vector256<float>>(value).Store(destination);
        else Unsafe.BitCast<TV, Vector128<float>>(value).Store(destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Broadcast<TV>(float value) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Create(value));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Create(value));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Create(value));
    }

    /// <summary>a·b + c, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV MultiplyAdd<TV>(TV a, TV b, TV c) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.FusedMultiplyAdd(
                Unsafe.BitCast<TV, Vector512<float>>(a), Unsafe.BitCast<TV, Vector512<float>>(b),
                Unsafe.BitCast<TV, Vector512<float>>(c)));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.FusedMultiplyAdd(
                Unsafe.BitCast<TV, Vector256<float>>(a), Unsafe.BitCast<TV, Vector256<float>>(b),
                Unsafe.BitCast<TV, Vector256<float>>(c)));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.FusedMultiplyAdd(
            Unsafe.BitCast<TV, Vector128<float>>(a), Unsafe.BitCast<TV, Vector128<float>>(b),
            Unsafe.BitCast<TV, Vector128<float>>(c)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Add<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Unsafe.BitCast<TV, Vector512<float>>(a) +
                Unsafe.BitCast<TV, Vector512<float>>(b));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Unsafe.BitCast<TV, Vector256<float>>(a) +
                Unsafe.BitCast<TV, Vector256<float>>(b));
        return Unsafe.BitCast<Vector128<float>, TV>(Unsafe.BitCast<TV, Vector128<float>>(a) +
            Unsafe.BitCast<TV, Vector128<float>>(b));
    }

    /// <summary>The sum of the lanes, in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum<TV>(TV value) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Vector512.Sum(Unsafe.BitCast<TV, Vector512<float>>(value));
        if (typeof(TV) == typeof(Vector256<float>)) return Vector256.Sum(Unsafe.BitCast<TV, Vector256<float>>(value));
        return Vector128.Sum(Unsafe.BitCast<TV, Vector128<float>>(value));
    }

    /// <summary>destination[i] += source[i] for i &lt; length; tails in narrower vectors, so that short rows stay
    /// vectorised.</summary>
    public static void AddTo<TV>(float* destination, float* source, int length) where TV : struct
    {
        int width = Count<TV>(), i = 0;
        for (; i <= length - width; i += width)
            Store(destination + i, Add(Load<TV>(destination + i), Load<TV>(source + i)));
        if (width > 8 && i <= length - 8)
        {
            (Vector256.Load(destination + i) + Vector256.Load(source + i)).Store(destination + i);
            i += 8;
        }
        if (width > 4 && i <= length - 4)
        {
            (Vector128.Load(destination + i) + Vector128.Load(source + i)).Store(destination + i);
            i += 4;
        }
        for (; i < length; i++) destination[i] += source[i];
    }

    /// <summary>destination[i] = source[i] for i &lt; length (not overlapping); a short copy inline, the last vector
    /// overlapping the one before.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy<TV>(float* destination, float* source, int length) where TV : struct
    {
        int width = Count<TV>();
        if (length < width)
        {
            if (width > 8 && length >= 8) Copy<Vector256<float>>(destination, source, length);
            else if (width > 4 && length >= 4) Copy<Vector128<float>>(destination, source, length);
            else for (int j = 0; j < length; j++) destination[j] = source[j];
            return;
        }
        int i = 0;
        for (; i < length - width; i += width) Store(destination + i, Load<TV>(source + i));
        Store(destination + length - width, Load<TV>(source + length - width));
    }

    /// <summary>destination[i] = source[i] + value for i &lt; length; tails in narrower vectors.</summary>
    public static void CopyAdd<TV>(float* destination, float* source, float value, int length) where TV : struct
    {
        int width = Count<TV>(), i = 0;
        var broadcast = Broadcast<TV>(value);
        for (; i <= length - width; i += width) Store(destination + i, Add(Load<TV>(source + i), broadcast));
        if (width > 8 && i <= length - 8)
        {
            (Vector256.Load(source + i) + Vector256.Create(value)).Store(destination + i);
            i += 8;
        }
        if (width > 4 && i <= length - 4)
        {
            (Vector128.Load(source + i) + Vector128.Create(value)).Store(destination + i);
            i += 4;
        }
        for (; i < length; i++) destination[i] = source[i] + value;
    }

    /// <summary>destination[i] = value for i &lt; length.</summary>
    public static void Fill<TV>(float* destination, float value, int length) where TV : struct
    {
        int width = Count<TV>(), i = 0;
        var broadcast = Broadcast<TV>(value);
        for (; i <= length - width; i += width) Store(destination + i, broadcast);
        for (; i < length; i++) destination[i] = value;
    }

    /// <summary>Σ source[i] for i &lt; length, in a fixed order (so the same input always gives the same
    /// bits).</summary>
    public static float Sum<TV>(float* source, int length) where TV : struct
    {
        int width = Count<TV>(), i = 0;
        TV sum0 = default, sum1 = default;
        for (; i <= length - 2 * width; i += 2 * width)
        {
            sum0 = Add(sum0, Load<TV>(source + i));
            sum1 = Add(sum1, Load<TV>(source + i + width));
        }
        if (i <= length - width) { sum0 = Add(sum0, Load<TV>(source + i)); i += width; }
        var lanes = stackalloc float[16];
        Store(lanes, Add(sum0, sum1));
        float total = 0;
        for (int lane = 0; lane < width; lane++) total += lanes[lane];
        for (; i < length; i++) total += source[i];
        return total;
    }
}
