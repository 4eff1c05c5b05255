using LeNet.Kernels.Cuda;

namespace LeNet.Core.Cuda;

/// <summary>
/// A training step captured once on a CUDA GPU and replayed as a CUDA graph: one driver call per step instead of one
/// launch per kernel, and none of the host code (autograd, the workspace) that queued them. Only a step whose every
/// launch has the same arguments each time can be replayed: same shapes, the workspace's tensors after its first steps,
/// and what changes per step read from device memory (<see cref="StepSchedule"/>). Host-side effects of the step are
/// the caller's to repeat (<see cref="StepSchedule.CountReplayedStep"/>).
/// </summary>
public sealed class CapturedStep : IDisposable
{
    private readonly CudaGraph _graph;
    private CapturedStep(CudaGraph graph) => _graph = graph;

    /// <summary>A CUDA GPU, not ILGPU's CPU accelerator nor the CPU.</summary>
    public static bool IsSupported(Device device) => device.Backend is CudaBackend { Gpu.IsCuda: true };

    /// <summary>
    /// Runs <paramref name="step"/>'s host code once; nothing runs on the device until <see cref="Replay"/>. The first
    /// capture moves the device's launches to a stream that can be captured, for good. A failed capture throws
    /// <see cref="CudaGraphException"/> with the driver's reason.
    /// </summary>
    public static CapturedStep Capture(Device device, Action step)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!IsSupported(device))
            throw new NotSupportedException($"Capturing a step needs a CUDA GPU; {device.Description} is not one.");
        var kernels = ((CudaBackend)device.Backend).Kernels;
        if (kernels.Stream == kernels.Accelerator.DefaultStream)
            kernels.Stream = CudaGraph.CreateCaptureStream(kernels.Accelerator);
        return new CapturedStep(CudaGraph.Capture(kernels.Stream, step));
    }

    /// <summary>Queues the captured step once more (not waiting for it).</summary>
    public void Replay() => _graph.Launch();
    public void Dispose() => _graph.Dispose();
}
