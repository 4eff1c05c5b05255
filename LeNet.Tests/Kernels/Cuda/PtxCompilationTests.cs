using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using LeNet.Kernels.Cuda;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// Every kernel compiles to PTX for the GPU machine's H200 (sm_90), without a GPU: the CPU accelerator runs the
/// kernels' .NET code directly, so only this test catches code that ILGPU cannot translate for CUDA.
/// </summary>
public class PtxCompilationTests
{
    public static TheoryData<string> KernelNames() => new(KernelMethods().Select(m => m.Name));

    internal static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(CudaKernels).GetMethods(BindingFlags.NonPublic | BindingFlags.Static)
            .Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal) && m.ReturnType == typeof(void));

    [Fact]
    public void EveryLoadedKernelIsCovered()
    {
        // The kernels found by name are all the wrappers load (a kernel renamed without the suffix would escape the PTX check).
        Assert.Equal(41, KernelMethods().Count());
    }

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void CompilesToPtx(string kernelName)
    {
        var method = KernelMethods().Single(m => m.Name == kernelName);
        using var context = Context.Create(builder => builder.Optimize(GpuOptions.Default.Optimization));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        var compiled = Assert.IsType<PTXCompiledKernel>(backend.Compile(entry, KernelSpecialization.Empty));
        Assert.Contains(".entry", compiled.PTXAssembly);
        // PTX's approximate tanh (relative error ~5e-4) would break the 1e-4 agreement; Tanh is built on exp instead.
        Assert.DoesNotContain("tanh.approx", compiled.PTXAssembly);
    }
}
