using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// Work queued on a CUDA stream, captured once as a CUDA graph and then replayed with one driver call: every launch,
/// memset and copy of the captured work runs again with the same arguments, without the host code that queued them.
/// ILGPU 1.5 has no graph API, so this calls the driver (libcuda) directly: stream capture (relaxed mode), graph
/// instantiation and launch. The captured work must only queue on the capturing stream, never wait for the device and
/// never allocate; what differs from one replay to the next must be read from device memory (see
/// <see cref="CudaKernels.GatherAtCursor"/>).
/// </summary>
public sealed unsafe class CudaGraph : IDisposable
{
    private const int CaptureModeRelaxed = 2; // CU_STREAM_CAPTURE_MODE_RELAXED

    private readonly CudaStream _stream;
    private nint _graph, _exec;

    private CudaGraph(CudaStream stream, nint graph, nint exec) => (_stream, _graph, _exec) = (stream, graph, exec);

    /// <summary>
    /// A stream of <paramref name="accelerator"/> that work can be captured on (the default stream cannot be): it
    /// synchronises with the default stream as that one does with every blocking stream, so work queued on either
    /// stays in order.
    /// </summary>
    public static AcceleratorStream CreateCaptureStream(Accelerator accelerator) =>
        accelerator is CudaAccelerator cuda
            ? cuda.CreateStream(StreamFlags.CU_STREAM_DEFAULT)
            : throw new NotSupportedException($"CUDA graphs need a CUDA GPU; {accelerator.Name} is not one.");

    /// <summary>
    /// Runs <paramref name="work"/> while <paramref name="stream"/> is being captured, so that what it queues there is
    /// recorded, not run, and returns the graph ready to <see cref="Launch"/>. If the work throws or the driver refuses
    /// (a wait, an allocation or a launch on another stream inside the capture), the capture is ended and a
    /// <see cref="CudaGraphException"/> says why; nothing of the work has run on the device then.
    /// </summary>
    public static CudaGraph Capture(AcceleratorStream stream, Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (stream is not CudaStream cuda || cuda.StreamPtr == 0)
            throw new ArgumentException(
                "Only a stream made by CreateCaptureStream can be captured (not the default stream, not " +
                    "a CPU accelerator's).",
                nameof(stream));
        cuda.Accelerator.Bind();
        var driver = Driver.Instance;
        Check(driver.BeginCapture(cuda.StreamPtr, CaptureModeRelaxed), "begin capturing the stream");
        nint graph = 0;
        try
        {
            work();
        }
        catch (Exception exception)
        {
            driver.EndCapture(cuda.StreamPtr, &graph);
            if (graph != 0) driver.GraphDestroy(graph);
            throw new CudaGraphException(
                $"the step failed while it was being captured ({exception.GetType().Name}: " +
                    $"{exception.Message.TrimEnd('.')})",
                exception);
        }
        Check(driver.EndCapture(cuda.StreamPtr, &graph),
            "end the capture (the captured work waited for the device, allocated, or used another stream)");
        nint exec = 0;
        var instantiated = driver.GraphInstantiate(&exec, graph, 0);
        if (instantiated != 0)
        {
            driver.GraphDestroy(graph);
            Check(instantiated, "instantiate the captured graph");
        }
        return new CudaGraph(cuda, graph, exec);
    }

    /// <summary>Queues one replay of the captured work on the stream it was captured on (not waiting for it).</summary>
    public void Launch()
    {
        ObjectDisposedException.ThrowIf(_exec == 0, this);
        _stream.Accelerator.Bind();
        Check(Driver.Instance.GraphLaunch(_exec, _stream.StreamPtr), "launch the captured graph");
    }

    public void Dispose()
    {
        if (_exec == 0) return;
        var driver = Driver.Instance;
        driver.GraphExecDestroy(_exec);
        driver.GraphDestroy(_graph);
        (_exec, _graph) = (0, 0);
    }

    private static void Check(int result, string what)
    {
        if (result == 0) return;
        throw new CudaGraphException(
            $"the CUDA driver could not {what}: {Driver.Instance.ErrorName(result)} (error {result})", null);
    }

    /// <summary>The driver's graph entry points, looked up once in libcuda (the driver ILGPU itself uses).</summary>
    private sealed class Driver
    {
        private static Driver? _instance;

        public static Driver Instance => _instance ??= new Driver();

        private readonly nint _library;

        private Driver()
        {
            if (!NativeLibrary.TryLoad("libcuda.so.1", out _library)
                && !NativeLibrary.TryLoad("libcuda.so", out _library)
                && !NativeLibrary.TryLoad("nvcuda.dll", out _library))
                throw new CudaGraphException("the CUDA driver library (libcuda) could not be loaded", null);
            BeginCaptureFn = (delegate* unmanaged<nint, int, int>)Export("cuStreamBeginCapture_v2");
            EndCaptureFn = (delegate* unmanaged<nint, nint*, int>)Export("cuStreamEndCapture");
            InstantiateFn = (delegate* unmanaged<nint*, nint, ulong, int>)Export("cuGraphInstantiateWithFlags");
            LaunchFn = (delegate* unmanaged<nint, nint, int>)Export("cuGraphLaunch");
            ExecDestroyFn = (delegate* unmanaged<nint, int>)Export("cuGraphExecDestroy");
            DestroyFn = (delegate* unmanaged<nint, int>)Export("cuGraphDestroy");
            ErrorNameFn = (delegate* unmanaged<int, byte**, int>)Export("cuGetErrorName");
        }

        private nint Export(string name) => NativeLibrary.TryGetExport(_library, name, out var address)
            ? address
            : throw new CudaGraphException(
                $"the CUDA driver has no {name} (CUDA graphs need a driver for CUDA 11.4 or later)", null);

        private readonly delegate* unmanaged<nint, int, int> BeginCaptureFn;
        private readonly delegate* unmanaged<nint, nint*, int> EndCaptureFn;
        private readonly delegate* unmanaged<nint*, nint, ulong, int> InstantiateFn;
        private readonly delegate* unmanaged<nint, nint, int> LaunchFn;
        private readonly delegate* unmanaged<nint, int> ExecDestroyFn;
        private readonly delegate* unmanaged<nint, int> DestroyFn;
        private readonly delegate* unmanaged<int, byte**, int> ErrorNameFn;

        public int BeginCapture(nint stream, int mode) => BeginCaptureFn(stream, mode);
        public int EndCapture(nint stream, nint* graph) => EndCaptureFn(stream, graph);
        public int GraphInstantiate(nint* exec, nint graph, ulong flags) => InstantiateFn(exec, graph, flags);
        public int GraphLaunch(nint exec, nint stream) => LaunchFn(exec, stream);
        public int GraphExecDestroy(nint exec) => ExecDestroyFn(exec);
        public int GraphDestroy(nint graph) => DestroyFn(graph);

        public string ErrorName(int result)
        {
            byte* name = null;
            return ErrorNameFn(result, &name) == 0 && name != null
                ? Marshal.PtrToStringAnsi((nint)name) ?? "?" : "an unknown error";
        }
    }
}

/// <summary>A CUDA graph could not be captured, instantiated or launched; the message is a clause ("the CUDA driver
/// could not ...").</summary>
public sealed class CudaGraphException(string message, Exception? inner) : Exception(message, inner);
