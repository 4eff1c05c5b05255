using ILGPU;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// Device-side sums over one group: a tree in shared memory down to <see cref="SerialWidth"/> partials, which the
/// first thread then adds in order. The order of additions depends only on the group size, so a result is the same
/// from run to run (no atomics). Few barriers: 5 for a 256-thread group on a GPU, 2 for the CPU accelerator's small
/// groups, where each barrier is costly. Scratch arrays hold <see cref="ScratchLength"/> floats; the group size must
/// be a power of two no larger than <see cref="MaxGroupSize"/>.
/// </summary>
internal static class GroupReduction
{
    /// <summary>The largest group any reduction kernel launches.</summary>
    public const int MaxGroupSize = 1024;

    /// <summary>Partials, then one slot for the broadcast total (kept apart, so a following sum may start at once).</summary>
    public const int ScratchLength = MaxGroupSize + 1;

    /// <summary>How many partials the first thread adds serially once the tree has folded the rest (a warp's worth).</summary>
    private const int SerialWidth = 32;

    /// <summary>Σ value over the group's threads, returned to every thread.</summary>
    public static float Sum(ArrayView<float> scratch, float value)
    {
        float total = Fold(scratch, value);
        if (Group.IdxX == 0)
            scratch[MaxGroupSize] = total;
        Group.Barrier();
        return scratch[MaxGroupSize];
    }

    /// <summary>Σ value over the group's threads, valid in thread 0 only (one barrier fewer than <see cref="Sum"/>).</summary>
    public static float SumToFirst(ArrayView<float> scratch, float value) => Fold(scratch, value);

    /// <summary>Two sums at once, sharing barriers: (Σ first, Σ second) to every thread.</summary>
    public static (float First, float Second) Sum2(ArrayView<float> scratchFirst, ArrayView<float> scratchSecond, float first, float second)
    {
        int thread = Group.IdxX;
        scratchFirst[thread] = first;
        scratchSecond[thread] = second;
        Group.Barrier();
        for (int half = Group.DimX / 2; half >= SerialWidth; half /= 2)
        {
            if (thread < half)
            {
                scratchFirst[thread] += scratchFirst[thread + half];
                scratchSecond[thread] += scratchSecond[thread + half];
            }
            Group.Barrier();
        }
        if (thread == 0)
        {
            int width = Group.DimX < SerialWidth ? Group.DimX : SerialWidth;
            float totalFirst = scratchFirst[0], totalSecond = scratchSecond[0];
            for (int i = 1; i < width; i++)
            {
                totalFirst += scratchFirst[i];
                totalSecond += scratchSecond[i];
            }
            scratchFirst[MaxGroupSize] = totalFirst;
            scratchSecond[MaxGroupSize] = totalSecond;
        }
        Group.Barrier();
        return (scratchFirst[MaxGroupSize], scratchSecond[MaxGroupSize]);
    }

    /// <summary>The tree and the serial tail; the total is correct in thread 0.</summary>
    private static float Fold(ArrayView<float> scratch, float value)
    {
        int thread = Group.IdxX;
        scratch[thread] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half >= SerialWidth; half /= 2)
        {
            if (thread < half)
                scratch[thread] += scratch[thread + half];
            Group.Barrier();
        }
        float total = 0f;
        if (thread == 0)
        {
            int width = Group.DimX < SerialWidth ? Group.DimX : SerialWidth;
            total = scratch[0];
            for (int i = 1; i < width; i++)
                total += scratch[i];
        }
        return total;
    }
}
