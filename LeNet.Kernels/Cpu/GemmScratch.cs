using System.Runtime.CompilerServices;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Per-thread scratch for the packed GEMM and the convolutions: pinned float arrays, grown once when a larger shape
/// arrives and then reused, so a kernel call allocates nothing in steady state. Each use has its own slot (a
/// [ThreadStatic] field of the caller) so that nested users on one thread (a convolution part calling the GEMM) never
/// share a buffer, and concurrent callers on different threads never do either.
/// </summary>
internal static unsafe class GemmScratch
{
    /// <summary>A 64-byte aligned pointer to at least <paramref name="length"/> floats held in
    /// <paramref name="slot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float* Get(ref float[]? slot, int length)
    {
        if (slot is null || slot.Length < length + 16) Grow(ref slot, length);
        var address = (nint)Unsafe.AsPointer(ref slot![0]);
        return (float*)((address + 63) & ~(nint)63);
    }

    private static void Grow(ref float[]? slot, int length) =>
        slot = GC.AllocateUninitializedArray<float>(Math.Max(length + 16, (slot?.Length ?? 0) * 3 / 2), pinned: true);
}
