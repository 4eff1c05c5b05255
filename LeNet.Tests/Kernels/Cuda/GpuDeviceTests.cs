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

[Collection(nameof(LeNet.Tests.Mnist.EnvironmentVariableCollection))]
public class GpuOptimizationVariableTests
{
    [Fact]
    public void TheCudaOptimizationLevelIsO1UnlessTheVariableNamesAnother()
    {
        var before = Environment.GetEnvironmentVariable(GpuDevice.OptimizationVariable);
        try
        {
            Environment.SetEnvironmentVariable(GpuDevice.OptimizationVariable, null);
            Assert.Equal(ILGPU.OptimizationLevel.O1, GpuDevice.CudaOptimization);
            Environment.SetEnvironmentVariable(GpuDevice.OptimizationVariable, "o2");
            Assert.Equal(ILGPU.OptimizationLevel.O2, GpuDevice.CudaOptimization);
            Environment.SetEnvironmentVariable(GpuDevice.OptimizationVariable, "fast");
            Assert.Equal(ILGPU.OptimizationLevel.O1, GpuDevice.CudaOptimization);
            Environment.SetEnvironmentVariable(GpuDevice.OptimizationVariable, "7");
            Assert.Equal(ILGPU.OptimizationLevel.O1, GpuDevice.CudaOptimization);
        }
        finally { Environment.SetEnvironmentVariable(GpuDevice.OptimizationVariable, before); }
    }
}
