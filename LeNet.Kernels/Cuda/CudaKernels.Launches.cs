using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Every kernel is loaded through Load, which wraps ILGPU's launcher so that an observer (LaunchObserver) can see each
// launch: the kernel's name, its configuration and its arguments. Without an observer a launch costs one more delegate
// call and allocates nothing; the argument array is only built when someone watches.
public sealed partial class CudaKernels
{
    /// <summary>
    /// Called before each launch and memset queued by these kernels, with the kernel's method name ("memset" for a
    /// clear), its launch configuration and its arguments (views, shapes, scalars; boxed). For tests and debugging,
    /// e.g. checking that two training steps queue the same launches with the same arguments (what a replayed CUDA
    /// graph needs); null (the default) costs nothing.
    /// </summary>
    public Action<string, KernelConfig, object[]>? LaunchObserver { get; set; }

    /// <summary>Kernel launches and memsets queued so far, counted as they are queued.</summary>
    public long Launches { get; private set; }

    /// <summary>Of the <see cref="Launches"/>, the memsets (<see cref="Clear"/>).</summary>
    public long Memsets { get; private set; }

    /// <summary>Zeroes <paramref name="view"/> on <see cref="Stream"/> (one memset).</summary>
    public void Clear(ArrayView<float> view)
    {
        Memsets++;
        Launches++;
        LaunchObserver?.Invoke("memset", default, [view]);
        view.MemSetToZero(Stream);
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2> Load<T1, T2>(Action<T1, T2> kernel)
        where T1 : struct where T2 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2]);
            launch(stream, config, a1, a2);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3> Load<T1, T2, T3>(Action<T1, T2, T3> kernel)
        where T1 : struct where T2 : struct where T3 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3]);
            launch(stream, config, a1, a2, a3);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4> Load<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4]);
            launch(stream, config, a1, a2, a3, a4);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5> Load<T1, T2, T3, T4, T5>(
        Action<T1, T2, T3, T4, T5> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5]);
            launch(stream, config, a1, a2, a3, a4, a5);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6> Load<T1, T2, T3, T4, T5, T6>(
        Action<T1, T2, T3, T4, T5, T6> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6]);
            launch(stream, config, a1, a2, a3, a4, a5, a6);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7> Load<T1, T2, T3, T4, T5, T6, T7>(
        Action<T1, T2, T3, T4, T5, T6, T7> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6, a7) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6, a7]);
            launch(stream, config, a1, a2, a3, a4, a5, a6, a7);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> Load<T1, T2, T3, T4, T5, T6, T7,
        T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6, a7, a8) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6, a7, a8]);
            launch(stream, config, a1, a2, a3, a4, a5, a6, a7, a8);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9> Load<T1, T2, T3, T4, T5, T6, T7,
        T8, T9>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct where T9 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6, a7, a8, a9]);
            launch(stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> Load<T1, T2, T3, T4, T5,
        T6, T7, T8, T9, T10>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct where T9 : struct where T10 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10]);
            launch(stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> Load<T1, T2, T3, T4,
        T5, T6, T7, T8, T9, T10, T11>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11]);
            launch(stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
        };
    }

    private Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13,
        T14> Load<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14>(
        Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct where T12 : struct
        where T13 : struct where T14 : struct
    {
        var launch = Accelerator.LoadKernel(kernel);
        var name = kernel.Method.Name;
        return (stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14) =>
        {
            Launches++;
            LaunchObserver?.Invoke(name, config, [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14]);
            launch(stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14);
        };
    }
}
