// Scratch buffers for the elementwise kernels' per-plane partial sums: a few slots taken and given back atomically.
namespace LeNet.Kernels.Cpu;

/// <summary>
/// Lends double buffers for per-plane partials without allocating in steady state. Each call rents its own buffer,
/// so concurrent callers never share one; a buffer given back when all slots hold larger ones is left to the collector.
/// </summary>
internal static class ElementwiseScratch
{
    private static readonly double[]?[] Slots = new double[]?[4];

    /// <summary>A buffer of at least <paramref name="length"/> doubles (contents undefined).</summary>
    public static double[] Rent(int length)
    {
        for (int i = 0; i < Slots.Length; i++)
        {
            var buffer = Interlocked.Exchange(ref Slots[i], null);
            if (buffer is null) continue;
            if (buffer.Length >= length) return buffer;
            Interlocked.CompareExchange(ref Slots[i], buffer, null);
        }
        return new double[Math.Max(length, 256)];
    }

    /// <summary>Gives a buffer back: into an empty slot, else in place of a smaller one (so the large one
    /// survives).</summary>
    public static void Return(double[] buffer)
    {
        for (int i = 0; i < Slots.Length; i++)
            if (Interlocked.CompareExchange(ref Slots[i], buffer, null) is null)
                return;
        for (int i = 0; i < Slots.Length; i++)
        {
            var held = Volatile.Read(ref Slots[i]);
            if (held is not null && held.Length < buffer.Length &&
                Interlocked.CompareExchange(ref Slots[i], buffer, held) == held)
                return;
        }
    }
}
