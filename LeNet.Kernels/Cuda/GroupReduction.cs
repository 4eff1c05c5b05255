using ILGPU;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// Device-side sums over one group: a tree in shared memory, halving the active threads each round. The order of
/// additions depends only on the group size, so a result is the same from run to run (no atomics). The group size
/// must be a power of two no larger than <see cref="MaxGroupSize"/>.
/// </summary>
internal static class GroupReduction
{
    /// <summary>The largest group any kernel launches; shared scratch arrays are allocated at this size.</summary>
    public const int MaxGroupSize = 1024;

    /// <summary>Σ value over the group's threads, returned to every thread. Uses (and afterwards frees) scratch[0..DimX).</summary>
    public static float Sum(ArrayView<float> scratch, float value)
    {
        int thread = Group.IdxX;
        scratch[thread] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (thread < half)
                scratch[thread] += scratch[thread + half];
            Group.Barrier();
        }
        float total = scratch[0];
        Group.Barrier(); // every thread has read the total before scratch is written again
        return total;
    }

    /// <summary>Two sums at once (one set of barriers): (Σ first, Σ second) to every thread.</summary>
    public static (float First, float Second) Sum2(ArrayView<float> scratchFirst, ArrayView<float> scratchSecond, float first, float second)
    {
        int thread = Group.IdxX;
        scratchFirst[thread] = first;
        scratchSecond[thread] = second;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (thread < half)
            {
                scratchFirst[thread] += scratchFirst[thread + half];
                scratchSecond[thread] += scratchSecond[thread + half];
            }
            Group.Barrier();
        }
        var totals = (scratchFirst[0], scratchSecond[0]);
        Group.Barrier();
        return totals;
    }
}
