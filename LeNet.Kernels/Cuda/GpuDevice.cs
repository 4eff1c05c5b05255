using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// An ILGPU context and one accelerator: the first CUDA GPU (<see cref="TryCreateCuda"/>) or ILGPU's CPU accelerator
/// (<see cref="CreateCpu"/>), which runs the same kernels on the host and is what tests use where no GPU is present.
/// Disposing it releases the accelerator, every buffer allocated on it, and the context.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private GpuDevice(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }

    /// <summary>True for a CUDA GPU, false for ILGPU's CPU accelerator.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>The device's name as the driver reports it (e.g. "NVIDIA H200"), or "CPU accelerator".</summary>
    public string Name => IsCuda ? Accelerator.Name : "ILGPU CPU accelerator";

    /// <summary>
    /// The IR optimisation level the CUDA kernels are compiled with: O1, not O2. ILGPU 1.5's O2 adds a code-placement
    /// pass that moves loop-invariant index arithmetic to its uses — into inner loops: in the convolution's PTX, two
    /// 32-bit integer divisions landed in the innermost multiply-add loop (about 40 instructions per multiply-add). O1
    /// leaves them where the C# computes them. Measured on an H100 (benchmarks/README.md, GPU steps); the kernels have
    /// changed since, so benchmarks/gpu/run.sh times the step at O2 again (<see cref="OptimizationVariable"/>).
    /// </summary>
    public const OptimizationLevel KernelOptimization = OptimizationLevel.O1;

    /// <summary>The environment variable that picks another level for an experiment (O0, O1 or O2): the benchmarks compare them.</summary>
    public const string OptimizationVariable = "LENET_ILGPU_OPTIMIZATION";

    /// <summary>The environment variable that, set to 0, compiles the convolutions once for all shapes (<see cref="CudaKernels.SpecializesShapes"/>).</summary>
    public const string SpecializationVariable = "LENET_ILGPU_SPECIALIZE";

    /// <summary>Whether new <see cref="CudaKernels"/> compile the convolutions per shape: unless <see cref="SpecializationVariable"/> is 0.</summary>
    public static bool SpecializeShapes => Environment.GetEnvironmentVariable(SpecializationVariable) != "0";

    /// <summary>Set to 0, the CUDA backend runs a classifier head and its loss as separate operations (for comparisons).</summary>
    public const string FusedHeadVariable = "LENET_FUSED_HEAD";

    /// <summary>Whether CUDA backends fuse the classifier head with its loss: unless <see cref="FusedHeadVariable"/> is 0.</summary>
    public static bool FusedHead => Environment.GetEnvironmentVariable(FusedHeadVariable) != "0";

    /// <summary>The level the CUDA kernels are compiled with: <see cref="OptimizationVariable"/> when set to a level, else <see cref="KernelOptimization"/>.</summary>
    public static OptimizationLevel CudaOptimization =>
        Environment.GetEnvironmentVariable(OptimizationVariable) is { } value && Enum.TryParse<OptimizationLevel>(value, ignoreCase: true, out var level)
        && Enum.IsDefined(level) ? level : KernelOptimization;

    /// <summary>
    /// Opens the first CUDA GPU. Never throws for a machine without one: returns false and why, as a clause for the
    /// caller's sentence (no CUDA driver or no device: "no CUDA GPU was found (...)"; the driver refused: "the CUDA GPU
    /// could not be opened (...)"); what to do instead is the caller's to say.
    /// </summary>
    public static bool TryCreateCuda(out GpuDevice? device, out string reason)
    {
        device = null;
        Context? context = null;
        try
        {
            context = Context.Create(builder => builder.Cuda().Optimize(CudaOptimization));
            var cudaDevices = context.GetDevices<CudaDevice>();
            if (cudaDevices.Count == 0)
            {
                context.Dispose();
                reason = "no CUDA GPU was found (no NVIDIA driver, or no device visible to it)";
                return false;
            }
            var accelerator = cudaDevices[0].CreateAccelerator(context);
            device = new GpuDevice(context, accelerator);
            reason = "";
            return true;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A missing or broken driver surfaces as DllNotFoundException, CudaException, TypeInitializationException...
            context?.Dispose();
            reason = $"the CUDA GPU could not be opened ({exception.GetType().Name}: {exception.Message.TrimEnd('.')})";
            return false;
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator simulating a small GPU: groups of up to <paramref name="threadsPerGroup"/> threads
    /// (a power of two; 16 by default, so the GEMM tile is 4×4 — each barrier costs the CPU accelerator a context switch
    /// per thread, so small groups keep tests fast) and <paramref name="multiprocessors"/> groups running at once.
    /// Kernels behave as on a GPU (shared memory, barriers), only slowly.
    /// </summary>
    public static GpuDevice CreateCpu(int threadsPerGroup = 16, int multiprocessors = 2)
    {
        if (threadsPerGroup < 4 || (threadsPerGroup & (threadsPerGroup - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(threadsPerGroup), threadsPerGroup, "The group size must be a power of two of at least 4.");
        if (multiprocessors < 1)
            throw new ArgumentOutOfRangeException(nameof(multiprocessors), multiprocessors, "At least one multiprocessor is needed.");
        var cpuDevice = new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: threadsPerGroup / 4, numMultiprocessors: multiprocessors);
        var context = Context.Create(builder => builder.CPU(cpuDevice).Optimize(OptimizationLevel.O2));
        try
        {
            return new GpuDevice(context, cpuDevice.CreateAccelerator(context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }

    public override string ToString() => Name;
}
