using ILGPU;

namespace LeNet.Kernels.Cuda;

/// <summary>
/// exp and log for kernels, built on base-2 functions that ILGPU's PTX backend maps to single instructions
/// (ex2.approx.f32, relative error ~2⁻²²; lg2.approx.f32, absolute error ~2⁻²²): ILGPU has no PTX exp or log without
/// the CUDA SDK's libdevice, which the GPU machine lacks. On the CPU accelerator the same calls run .NET's math.
/// </summary>
internal static class DeviceMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2 = 0.693147180559945309f;

    public static float Exp(float x) => IntrinsicMath.CPUOnly.Exp2(x * Log2E);

    public static float Log(float x) => IntrinsicMath.CPUOnly.Log2(x) * Ln2;
}
