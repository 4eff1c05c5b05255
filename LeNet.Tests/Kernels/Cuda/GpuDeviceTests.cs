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
                // The fact, for the caller to put in its sentence: "--device cuda: no CUDA GPU was found (...); run with ...".
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
