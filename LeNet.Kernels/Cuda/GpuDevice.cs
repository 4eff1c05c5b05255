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
    private GpuDevice(Context context, Accelerator accelerator, GpuOptions options)
    {
        Context = context;
        Accelerator = accelerator;
        Options = options;
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }

    /// <summary>True for a CUDA GPU, false for ILGPU's CPU accelerator.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>The device's name as the driver reports it (e.g. "NVIDIA H200"), or "CPU accelerator".</summary>
    public string Name => IsCuda ? Accelerator.Name : "ILGPU CPU accelerator";

    /// <summary>The options the device was opened with, for the kernels and the backend built on it.</summary>
    public GpuOptions Options { get; }

    /// <summary>
    /// Opens the first CUDA GPU. Never throws for a machine without one: returns false and why, as a clause for the
    /// caller's sentence (no CUDA driver or no device: "no CUDA GPU was found (...)"; the driver refused: "the CUDA GPU
    /// could not be opened (...)"); what to do instead is the caller's to say. <paramref name="options"/>: null for
    /// <see cref="GpuOptions.Default"/>.
    /// </summary>
    public static bool TryCreateCuda(out GpuDevice? device, out string reason, GpuOptions? options = null)
    {
        options ??= GpuOptions.Default;
        options.Validate();
        device = null;
        Context? context = null;
        try
        {
            context = Context.Create(builder => builder.Cuda().Optimize(options.Optimization));
            var cudaDevices = context.GetDevices<CudaDevice>();
            if (cudaDevices.Count == 0)
            {
                context.Dispose();
                reason = "no CUDA GPU was found (no NVIDIA driver, or no device visible to it)";
                return false;
            }
            var accelerator = cudaDevices[0].CreateAccelerator(context);
            device = new GpuDevice(context, accelerator, options);
            reason = "";
            return true;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A missing or broken driver surfaces as DllNotFoundException, CudaException,
            // TypeInitializationException...
            context?.Dispose();
            reason = $"the CUDA GPU could not be opened ({exception.GetType().Name}: {exception.Message.TrimEnd('.')})";
            return false;
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator simulating a small GPU: groups of up to <paramref name="threadsPerGroup"/> threads
    /// (a power of two; 16 by default, so the GEMM tile is 4×4 — each barrier costs the CPU accelerator a context
    /// switch per thread, so small groups keep tests fast) and <paramref name="multiprocessors"/> groups running at
    /// once. Kernels behave as on a GPU (shared memory, barriers), only slowly. <paramref name="options"/>: null for
    /// <see cref="GpuOptions.Default"/>; its optimisation level is not used (the CPU accelerator runs the kernels' .NET
    /// code).
    /// </summary>
    public static GpuDevice CreateCpu(int threadsPerGroup = 16, int multiprocessors = 2, GpuOptions? options = null)
    {
        options ??= GpuOptions.Default;
        options.Validate();
        if (threadsPerGroup < 4 || (threadsPerGroup & (threadsPerGroup - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(threadsPerGroup), threadsPerGroup,
                "The group size must be a power of two of at least 4.");
        if (multiprocessors < 1)
            throw new ArgumentOutOfRangeException(nameof(multiprocessors), multiprocessors,
                "At least one multiprocessor is needed.");
        var cpuDevice = new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: threadsPerGroup / 4,
            numMultiprocessors: multiprocessors);
        var context = Context.Create(builder => builder.CPU(cpuDevice).Optimize(OptimizationLevel.O2));
        try
        {
            return new GpuDevice(context, cpuDevice.CreateAccelerator(context), options);
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
