using ILGPU;
using LeNet.Kernels.Cuda;

namespace LeNet.Tests.Kernels.Cuda;

public class GpuDeviceTests
{
    [Fact]
    public void TryCreateCudaEitherOpensAGpuOrSaysWhyNot()
    {
        bool found = GpuDevice.TryCreateCuda(out var device, out string reason);
        using (device)
        {
            if (found)
            {
                Assert.NotNull(device);
                Assert.True(device.IsCuda);
                Assert.Equal("", reason);
            }
            else
            {
                Assert.Null(device);
                // The fact, for the caller to put in its sentence: "--device cuda: no CUDA GPU was found (...); run
                // with ...".
                Assert.Matches("^(no CUDA GPU was found|the CUDA GPU could not be opened) \\(.+\\)$", reason);
            }
        }
    }

    [Fact]
    public void TheCpuAcceleratorGetsGroupAndTileSizesThatFitIt()
    {
        using var device = GpuDevice.CreateCpu(threadsPerGroup: 16);
        Assert.False(device.IsCuda);
        var kernels = new CudaKernels(device.Accelerator);
        Assert.Equal(16, kernels.GroupSize);
        Assert.Equal(16, kernels.ReductionGroupSize);
        Assert.Equal(4, kernels.Tile);
        Assert.Throws<ArgumentOutOfRangeException>(() => GpuDevice.CreateCpu(threadsPerGroup: 24));
    }
}

public class GpuOptionsTests
{
    [Fact]
    public void TheCudaOptimizationLevelIsO1UnlessTheOptionsNameAnother()
    {
        Assert.Equal(OptimizationLevel.O1, new GpuOptions().Optimization);
        Assert.Equal(new GpuOptions(), GpuOptions.Default);
        Assert.Equal(OptimizationLevel.O2,
            (GpuOptions.Default with { Optimization = OptimizationLevel.O2 }).Optimization);
        // A value that is no level is refused before any device is opened.
        var noLevel = new GpuOptions((OptimizationLevel)7);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => GpuDevice.TryCreateCuda(out _, out _, noLevel));
        Assert.Equal("Optimization", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => GpuDevice.CreateCpu(options: noLevel));
    }

    [Fact]
    public void TheOptionsReachTheKernelsAndTheBackend()
    {
        using (var gpu = GpuDevice.CreateCpu())
        {
            Assert.Same(GpuOptions.Default, gpu.Options);
            var backend = (LeNet.Core.Cuda.CudaBackend)LeNet.Core.Cuda.CudaDevice.Open(gpu).Backend;
            Assert.Same(GpuOptions.Default, backend.Kernels.Options);
            Assert.True(backend.Kernels.Options.SpecializeShapes);
            Assert.True(backend.Options.FuseHead);
        }
        var options = new GpuOptions(SpecializeShapes: false, FuseHead: false);
        using (var gpu = GpuDevice.CreateCpu(options: options))
        {
            Assert.Same(options, gpu.Options);
            var backend = (LeNet.Core.Cuda.CudaBackend)LeNet.Core.Cuda.CudaDevice.Open(gpu).Backend;
            Assert.Same(options, backend.Kernels.Options);
            Assert.False(backend.Options.FuseHead);
            Assert.Same(options, new CudaKernels(gpu.Accelerator, options).Options);
            Assert.Same(GpuOptions.Default, new CudaKernels(gpu.Accelerator).Options);
        }
    }
}
