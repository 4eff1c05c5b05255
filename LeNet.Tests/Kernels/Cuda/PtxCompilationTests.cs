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

    /// <summary>
    /// The kernels <see cref="CudaKernels"/> loads, whatever their names: every static method of the class that one of
    /// its own methods turns into a delegate (<c>ldftn</c> in its IL), which is how a kernel reaches
    /// <c>Accelerator.LoadKernel</c>.
    /// </summary>
    internal static IReadOnlyList<MethodInfo> KernelMethods()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static
            | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var types = new[] { typeof(CudaKernels) }.Concat(typeof(CudaKernels).GetNestedTypes(BindingFlags.NonPublic));
        var bodies = types.SelectMany(t => t.GetMethods(all).Cast<MethodBase>().Concat(t.GetConstructors(all)));
        var found = new HashSet<MethodInfo>();
        foreach (var body in bodies)
        {
            var il = body.GetMethodBody()?.GetILAsByteArray() ?? [];
            // ldftn is 0xFE 0x06 followed by a method token; a token that resolves to no method is operand bytes.
            for (var i = 0; i + 6 <= il.Length; i++)
            {
                if (il[i] != 0xFE || il[i + 1] != 0x06) continue;
                MethodBase? target;
                try
                {
                    target = body.Module.ResolveMethod(BitConverter.ToInt32(il, i + 2),
                        body.DeclaringType!.IsGenericType ? body.DeclaringType.GetGenericArguments() : null,
                        body.IsGenericMethod ? body.GetGenericArguments() : null);
                }
                catch (ArgumentException) { continue; }
                if (target is MethodInfo { IsStatic: true } method && method.DeclaringType == typeof(CudaKernels))
                    found.Add(method);
            }
        }
        return found.OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
    }

    [Fact]
    public void Every_kernel_handed_to_the_loader_is_found_and_compiled()
    {
        var kernels = KernelMethods();
        // The kernels named by the project's convention are all among those found in the loading code, so the search
        // sees every Load call; it finds the ones named otherwise as well, and CompilesToPtx runs over all of them.
        var bySuffix = typeof(CudaKernels).GetMethods(BindingFlags.NonPublic | BindingFlags.Static)
            .Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal) && m.ReturnType == typeof(void));
        Assert.Empty(bySuffix.Except(kernels));
        Assert.All(kernels, kernel => Assert.Equal(typeof(void), kernel.ReturnType));
        Assert.Equal(kernels.Count, kernels.Select(k => k.Name).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void CompilesToPtx(string kernelName)
    {
        var method = KernelMethods().Single(m => m.Name == kernelName);
        using var context = Context.Create(builder => builder.Optimize(GpuOptions.Default.Optimization));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90),
            CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        var compiled = Assert.IsType<PTXCompiledKernel>(backend.Compile(entry, KernelSpecialization.Empty));
        Assert.Contains(".entry", compiled.PTXAssembly);
        // PTX's approximate tanh (relative error ~5e-4) would break the 1e-4 agreement; Tanh is built on exp instead.
        Assert.DoesNotContain("tanh.approx", compiled.PTXAssembly);
    }
}
