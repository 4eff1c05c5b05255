using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels.Cuda;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// All CUDA-kernel test classes share one collection, so one CPU accelerator (and one GPU, if any) serves them all.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CudaKernelCollection : ICollectionFixture<AcceleratorFixture>
{
    public const string Name = "Cuda kernels";
}

/// <summary>
/// The accelerators the kernel tests run on: ILGPU's CPU accelerator always (the real check where no GPU is present),
/// and the first CUDA GPU when one is found. Each is created on first use, with its <see cref="CudaKernels"/>, and
/// disposed with the fixture.
/// </summary>
public sealed class AcceleratorFixture : IDisposable
{
    public const string Cpu = "cpu", Cuda = "cuda";

    /// <summary>
    /// Theory data: "cpu" and "cuda". Without a CUDA GPU the "cuda" cases are reported as skipped, with the reason
    /// the GPU did not open (<see cref="Require"/>); with <see cref="GpuOnlyVariable"/> set to 1 (as in
    /// benchmarks/gpu/run.sh: the GPU machine's few minutes go to the GPU; CI runs the CPU accelerator's cases) only
    /// "cuda", which then fails where no GPU opens.
    /// </summary>
    public static TheoryData<string> Devices() =>
        GpuOnly ? new TheoryData<string>(Cuda) : new TheoryData<string>(Cpu, Cuda);

    /// <summary>
    /// What a test on "cuda" does when no GPU opened: skips with <paramref name="reason"/>, or fails in GPU-only mode,
    /// where a missing GPU must not pass for a green run.
    /// </summary>
    internal static Exception NoGpu(string reason)
    {
        if (!GpuOnly) CudaCases.Skipped();
        if (GpuOnly)
            return new InvalidOperationException($"{GpuOnlyVariable}=1, but no CUDA GPU opened: {reason}");
        Assert.Skip($"no CUDA GPU opened: {reason}");
        return new UnreachableException();
    }

    private static readonly Lazy<string?> CudaFailure = new(() =>
    {
        if (!GpuDevice.TryCreateCuda(out var device, out var reason)) return reason;
        device!.Dispose();
        return null;
    });

    /// <summary>
    /// Called first by each test on <paramref name="device"/>: a "cuda" case skips (or fails, see <see cref="NoGpu"/>)
    /// before any work when no CUDA GPU opens, and never inside a check that would take the skip for a failure.
    /// </summary>
    public static void Require(string device)
    {
        if (device == Cuda && CudaFailure.Value is { } reason) throw NoGpu(reason);
        if (device == Cuda) CudaCases.RanOnGpu();
        else CudaCases.RanOnSimulator();
    }

    private readonly Dictionary<string, (GpuDevice Device, CudaKernels Kernels)> _opened = [];
    private readonly Lock _lock = new();
    private string? _cudaFailure; // why the GPU did not open, so that each "cuda" case does not try again

    /// <summary>
    /// The environment variable that, set to 1 on a machine with a CUDA GPU, leaves out the CPU accelerator's cases.
    /// </summary>
    public const string GpuOnlyVariable = "LENET_TEST_GPU_ONLY";

    internal static bool GpuOnly => Environment.GetEnvironmentVariable(GpuOnlyVariable) == "1";

    public CudaKernels Kernels(string device)
    {
        lock (_lock)
        {
            if (!_opened.TryGetValue(device, out var opened))
            {
                GpuDevice gpu;
                if (device == Cuda)
                {
                    if (_cudaFailure is not null) throw NoGpu(_cudaFailure);
                    if (!GpuDevice.TryCreateCuda(out var cuda, out string reason))
                    {
                        _cudaFailure = reason;
                        throw NoGpu(reason);
                    }
                    gpu = cuda!;
                }
                else
                    gpu = GpuDevice.CreateCpu();
                opened = (gpu, new CudaKernels(gpu.Accelerator));
                _opened[device] = opened;
            }
            return opened.Kernels;
        }
    }

    public void Dispose()
    {
        foreach (var (device, _) in _opened.Values)
            device.Dispose();
        _opened.Clear();
    }
}

/// <summary>Moving test data to and from an accelerator, in float on the device and double on the host.</summary>
internal static class DeviceData
{
    public static MemoryBuffer1D<float, Stride1D.Dense> Upload(this CudaKernels kernels, double[] values)
    {
        var buffer = kernels.Accelerator.Allocate1D<float>(values.Length);
        buffer.View.CopyFromCPU(values.Select(v => (float)v).ToArray());
        return buffer;
    }

    public static MemoryBuffer1D<int, Stride1D.Dense> Upload(this CudaKernels kernels, int[] values)
    {
        var buffer = kernels.Accelerator.Allocate1D<int>(values.Length);
        buffer.View.CopyFromCPU(values);
        return buffer;
    }

    public static MemoryBuffer1D<float, Stride1D.Dense> Zeros(this CudaKernels kernels, int length)
    {
        var buffer = kernels.Accelerator.Allocate1D<float>(length);
        buffer.View.MemSetToZero(kernels.Stream);
        return buffer;
    }

    public static double[] Download(this CudaKernels kernels, MemoryBuffer1D<float, Stride1D.Dense> buffer)
    {
        kernels.Synchronize();
        return buffer.GetAsArray1D().Select(v => (double)v).ToArray();
    }

    public static int[] Download(this CudaKernels kernels, MemoryBuffer1D<int, Stride1D.Dense> buffer)
    {
        kernels.Synchronize();
        return buffer.GetAsArray1D();
    }

    /// <summary>
    /// The values rounded to float and back: the device's exact inputs, so that Reference in double measures only the
    /// kernel's error.
    /// </summary>
    public static double[] AsFloat(double[] values) => values.Select(v => (double)(float)v).ToArray();

    /// <summary>Uniform values already representable in float.</summary>
    public static double[] Uniform(Random rng, int length, double min = -1, double max = 1) =>
        AsFloat(GradientCheck.Uniform(rng, length, min, max));

    public const double Tolerance = 1e-4;

    public static void AssertAgrees(double[] expected, double[] actual, string what)
    {
        Assert.True(expected.Any(v => v != 0), $"{what}: the expected values are all zero, which checks nothing.");
        double error = GradientCheck.RelativeError(expected, actual);
        Assert.True(error < Tolerance,
            $"{what}: the device differs from Reference (double) by relative error {error:E3}.");
    }

    /// <summary>
    /// prefilled + delta, elementwise: what an accumulating backward must leave in a prefilled buffer.
    /// </summary>
    public static double[] Plus(double[] prefilled, double[] delta) => prefilled.Zip(delta, (a, b) => a + b).ToArray();

    /// <summary>
    /// The accumulate contract checked against Reference in one go: a backward run into a buffer prefilled with random
    /// values must leave prefilled + gradient. An overwriting kernel leaves gradient alone and fails.
    /// </summary>
    public static void AssertAccumulated(double[] prefilled, double[] gradient, double[] actual, string what)
    {
        var added = actual.Zip(prefilled, (a, b) => a - b).ToArray();
        AssertAgrees(gradient, added, what + " (accumulated into a prefilled buffer)");
    }
}
