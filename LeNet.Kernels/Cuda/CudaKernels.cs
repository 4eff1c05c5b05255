using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// Every ILGPU kernel of the LeNet-5 run, compiled once for one accelerator and launched on <see cref="Stream"/>
/// without synchronising. Semantics are the Reference kernels': forwards overwrite, every backward accumulates (+=).
/// Each op lives in its own partial file (CudaKernels.Conv2d.cs, ...), its device code beside its host wrapper.
/// Launch shapes: elementwise kernels are grid-stride loops over groups of <see cref="GroupSize"/> threads;
/// reductions over the batch are split into many short partial sums (per chunk of planes, per band of output rows) that
/// a second launch combines in a fixed order — no atomics, so results are deterministic; GEMMs use square tiles of
/// <see cref="Tile"/>² threads. Group and tile sizes are read at run time so the same code runs on a GPU (256 threads,
/// 16×16 tiles) and on the small simulated groups of the CPU accelerator the tests use.
/// </summary>
public sealed partial class CudaKernels
{
    /// <summary>Upper bound on groups of a grid-stride launch: enough to fill any current GPU several times
    /// over.</summary>
    private const int MaxStrideGroups = 4096;

    /// <param name="accelerator">The accelerator the kernels are compiled for and launched on.</param>
    /// <param name="options">How they are compiled and run (<see cref="GpuDevice.Options"/> for the device's); null for
    /// <see cref="GpuOptions.Default"/>.</param>
    public CudaKernels(Accelerator accelerator, GpuOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Accelerator = accelerator;
        Options = options ?? GpuOptions.Default;
        Options.Validate();
        Stream = accelerator.DefaultStream;
        GroupSize = LargestPowerOfTwoAtMost(Math.Min(256, accelerator.MaxNumThreadsPerGroup));
        ReductionGroupSize =
            LargestPowerOfTwoAtMost(Math.Min(GroupReduction.MaxGroupSize, accelerator.MaxNumThreadsPerGroup));
        if (accelerator.AcceleratorType == AcceleratorType.Cuda)
            ReductionGroupSize = Math.Min(ReductionGroupSize, 512);
        Tile = 1;
        while (Tile < MaxTile && (Tile * 2) * (Tile * 2) <= GroupSize)
            Tile *= 2;
        if (GroupSize < 4)
            throw new ArgumentException(
                $"{accelerator.Name} allows only {accelerator.MaxNumThreadsPerGroup} threads per group; the " +
                    "kernels need at least 4.",
                nameof(accelerator));

        LoadConv2d();
        LoadPooling();
        LoadBatchNorm2d();
        LoadFused();
        LoadLinear();
        LoadActivations();
        LoadSoftmaxCrossEntropy();
        LoadHead();
        LoadAdam();
        LoadGather();
        LoadAugment();
        LoadSchedule();
        LoadElementwise();
    }

    public Accelerator Accelerator { get; }

    /// <summary>
    /// The options the kernels were made with: <see cref="GpuOptions.SpecializeShapes"/> decides how they are
    /// compiled (the first launch with a new shape compiles a kernel in which its sizes are constants); the rest is for
    /// the backend.
    /// </summary>
    public GpuOptions Options { get; }

    /// <summary>The stream every launch is queued on (the accelerator's default stream unless set).</summary>
    public AcceleratorStream Stream { get; set; }

    /// <summary>Threads per group of elementwise kernels (256 on a GPU).</summary>
    public int GroupSize { get; }

    /// <summary>Threads per group of the per-channel reductions (BatchNorm, weight gradients): larger, for more
    /// bandwidth per group.</summary>
    public int ReductionGroupSize { get; }

    /// <summary>Side of a GEMM tile (16 on a GPU): each group is Tile² threads computing a Tile×Tile block of the
    /// output.</summary>
    public int Tile { get; }

    /// <summary>Waits for everything queued on <see cref="Stream"/>. The kernels never call it; callers do, when they
    /// read back.</summary>
    public void Synchronize() => Stream.Synchronize();

    /// <summary>The largest tile the shared arrays are sized for.</summary>
    internal const int MaxTile = 16;

    /// <summary>A grid-stride launch over <paramref name="elements"/> items: one thread each, up to
    /// <see cref="MaxStrideGroups"/> groups.</summary>
    private KernelConfig StrideConfig(long elements)
    {
        long groups = Math.Clamp((elements + GroupSize - 1) / GroupSize, 1, MaxStrideGroups);
        return new KernelConfig((int)groups, GroupSize);
    }

    private static int NextPowerOfTwo(int value)
    {
        int power = 1;
        while (power < value) power *= 2;
        return power;
    }

    private static int LargestPowerOfTwoAtMost(int value)
    {
        int power = 1;
        while (power * 2 <= value) power *= 2;
        return power;
    }

    private static int Checked(long length, string name)
    {
        if (length > int.MaxValue)
            throw new ArgumentException($"{name} has {length} elements; the kernels index with 32-bit integers.", name);
        return (int)length;
    }

    /// <summary>An empty view (meaning "none") is replaced by a valid one the kernel never reads, so no launch sees a
    /// null view.</summary>
    private static ArrayView<float> OrPlaceholder(ArrayView<float> view, ArrayView<float> placeholder) =>
        view.Length > 0 ? view : placeholder;

    /// <summary>
    /// In a kernel: target[i] += value, or target[i] = value when <paramref name="accumulate"/> is 0 (a gradient buffer
    /// reused without clearing: its old contents, possibly NaN, are never read).
    /// </summary>
    private static void Put(ArrayView<float> target, int i, float value, int accumulate) =>
        target[i] = accumulate != 0 ? target[i] + value : value;
}
