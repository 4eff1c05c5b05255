using ILGPU;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// Device-side sums over one group: each warp adds its lanes' values by shuffles (halving distances), the warps' sums
/// meet in shared memory after one barrier, and the first warp adds them the same way. The order of additions depends
/// only on the group and warp sizes, so a result is the same from run to run (no atomics). On a GPU a 256-thread group
/// takes one barrier and ten shuffles, where a tree in shared memory took four barriers and 32 serial additions in one
/// thread. Scratch arrays hold <see cref="ScratchLength"/> floats; the group size must be a power of two, a multiple of
/// the warp size (32 on a GPU, 4 on the CPU accelerator the tests use), no larger than <see cref="MaxGroupSize"/>.
/// </summary>
internal static class GroupReduction
{
    /// <summary>The largest group any reduction kernel launches.</summary>
    public const int MaxGroupSize = 1024;

    /// <summary>One slot per warp, then one for the broadcast total (kept apart, so a following sum may start at
    /// once).</summary>
    public const int ScratchLength = MaxGroupSize + 1;

    /// <summary>Σ value over the group's threads, returned to every thread.</summary>
    public static float Sum(ArrayView<float> scratch, float value)
    {
        float total = Fold(scratch, value);
        if (Group.IdxX == 0)
            scratch[MaxGroupSize] = total;
        Group.Barrier();
        return scratch[MaxGroupSize];
    }

    /// <summary>
    /// Σ value over the group's threads, valid in thread 0 only (one barrier fewer than <see cref="Sum"/>); the group's
    /// last reduction on <paramref name="scratch"/>, as the first warp may still read it when the others return.
    /// </summary>
    public static float SumToFirst(ArrayView<float> scratch, float value) => Fold(scratch, value);

    /// <summary>Two sums at once, sharing barriers: (Σ first, Σ second) to every thread.</summary>
    public static (float First, float Second) Sum2(ArrayView<float> scratchFirst, ArrayView<float> scratchSecond,
        float first, float second)
    {
        first = WarpSum(first);
        second = WarpSum(second);
        if (Warp.IsFirstLane)
        {
            scratchFirst[Warp.WarpIdx] = first;
            scratchSecond[Warp.WarpIdx] = second;
        }
        Group.Barrier();
        if (Warp.WarpIdx == 0)
        {
            first = WarpSum(LaneShare(scratchFirst));
            second = WarpSum(LaneShare(scratchSecond));
            if (Warp.IsFirstLane)
            {
                scratchFirst[MaxGroupSize] = first;
                scratchSecond[MaxGroupSize] = second;
            }
        }
        Group.Barrier();
        return (scratchFirst[MaxGroupSize], scratchSecond[MaxGroupSize]);
    }

    /// <summary>The warps' sums, then the first warp's sum of those; the total is correct in thread 0.</summary>
    private static float Fold(ArrayView<float> scratch, float value)
    {
        value = WarpSum(value);
        if (Warp.IsFirstLane)
            scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        return Warp.WarpIdx == 0 ? WarpSum(LaneShare(scratch)) : 0f;
    }

    /// <summary>In the first warp: lane l's share of the warps' sums in scratch, warps l, l + warp size, ... added in
    /// order.</summary>
    private static float LaneShare(ArrayView<float> scratch)
    {
        int warps = Group.DimX / Warp.WarpSize;
        float share = 0f;
        for (int w = Warp.LaneIdx; w < warps; w += Warp.WarpSize)
            share += scratch[w];
        return share;
    }

    /// <summary>Σ value over the warp's lanes, correct in its first lane (every lane must call it).</summary>
    internal static float WarpSum(float value)
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance /= 2)
            value += Warp.ShuffleDown(value, distance);
        return value;
    }
}
