[assembly: AssemblyFixture(typeof(LeNet.Tests.Kernels.Cuda.CudaCases))]

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// Counts the GPU test cases as they start: on a real GPU, on ILGPU's CPU accelerator (the simulator), or skipped
/// because no GPU opened. At the end of the run the counts go to cuda-cases.txt beside the test assembly, which
/// .ci/run prints, so a run says how much of the GPU code it exercised and where.
/// </summary>
public sealed class CudaCases : IDisposable
{
    private static int _realGpu, _simulator, _skipped;

    public static void RanOnGpu() => Interlocked.Increment(ref _realGpu);

    public static void RanOnSimulator() => Interlocked.Increment(ref _simulator);

    public static void Skipped() => Interlocked.Increment(ref _skipped);

    public static string Summary =>
        $"CUDA cases: {_realGpu} on a real GPU, {_simulator} on the simulator (ILGPU's CPU " +
            $"accelerator), {_skipped} skipped";

    public void Dispose() =>
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "cuda-cases.txt"), Summary + "\n");
}
