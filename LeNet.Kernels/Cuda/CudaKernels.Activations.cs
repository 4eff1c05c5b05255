using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// ReLU and Tanh, elementwise grid-stride loops. Tanh is computed from exp (PTX's tanh.approx is accurate only to
// ~5e-4).
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>> _reluForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int> _reluBackward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>> _tanhForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int> _tanhBackward = null!;

    private void LoadActivations()
    {
        _reluForward = Load<ArrayView<float>, ArrayView<float>>(ReLUForwardKernel);
        _reluBackward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReLUBackwardKernel);
        _tanhForward = Load<ArrayView<float>, ArrayView<float>>(TanhForwardKernel);
        _tanhBackward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(TanhBackwardKernel);
    }

    /// <summary>output = max(input, 0). Overwrites output; output may be input.</summary>
    public void ReLUForward(ArrayView<float> input, ArrayView<float> output)
    {
        SpanLength.RequireSame(Checked(output.Length, nameof(output)), Checked(input.Length, nameof(input)),
            nameof(output), nameof(input));
        _reluForward(Stream, StrideConfig(input.Length), input, output);
    }

    /// <summary>inputGrad += outputGrad where input &gt; 0 (without <paramref name="accumulate"/>: inputGrad = that,
    /// its old contents ignored).</summary>
    public void ReLUBackward(ArrayView<float> input, ArrayView<float> outputGrad, ArrayView<float> inputGrad,
        bool accumulate = true)
    {
        SpanLength.RequireSame(Checked(outputGrad.Length, nameof(outputGrad)), Checked(input.Length, nameof(input)),
            nameof(outputGrad), nameof(input));
        SpanLength.RequireSame(Checked(inputGrad.Length, nameof(inputGrad)), Checked(input.Length, nameof(input)),
            nameof(inputGrad), nameof(input));
        _reluBackward(Stream, StrideConfig(input.Length), input, outputGrad, inputGrad, accumulate ? 1 : 0);
    }

    /// <summary>output = tanh(input). Overwrites output; output may be input.</summary>
    public void TanhForward(ArrayView<float> input, ArrayView<float> output)
    {
        SpanLength.RequireSame(Checked(output.Length, nameof(output)), Checked(input.Length, nameof(input)),
            nameof(output), nameof(input));
        _tanhForward(Stream, StrideConfig(input.Length), input, output);
    }

    /// <summary>inputGrad += outputGrad·(1 − output²), from the saved output.</summary>
    public void TanhBackward(ArrayView<float> output, ArrayView<float> outputGrad, ArrayView<float> inputGrad,
        bool accumulate = true)
    {
        SpanLength.RequireSame(Checked(outputGrad.Length, nameof(outputGrad)), Checked(output.Length, nameof(output)),
            nameof(outputGrad), nameof(output));
        SpanLength.RequireSame(Checked(inputGrad.Length, nameof(inputGrad)), Checked(output.Length, nameof(output)),
            nameof(inputGrad), nameof(output));
        _tanhBackward(Stream, StrideConfig(output.Length), output, outputGrad, inputGrad, accumulate ? 1 : 0);
    }

    private static void ReLUForwardKernel(ArrayView<float> input, ArrayView<float> output)
    {
        int total = (int)input.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            output[i] = ReLU(input[i]);
    }

    private static void ReLUBackwardKernel(ArrayView<float> input, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, int accumulate)
    {
        int total = (int)input.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(inputGrad, i, input[i] > 0f ? outputGrad[i] : 0f, accumulate);
    }

    private static void TanhForwardKernel(ArrayView<float> input, ArrayView<float> output)
    {
        int total = (int)input.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            output[i] = Tanh(input[i]);
    }

    private static void TanhBackwardKernel(ArrayView<float> output, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, int accumulate)
    {
        int total = (int)output.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(inputGrad, i, outputGrad[i] * (1f - output[i] * output[i]), accumulate);
    }

    /// <summary>tanh x = sign(x)·(1 − e)/(1 + e), e = exp(−2|x|) ≤ 1: no overflow; absolute error a few ulp of
    /// 1.</summary>
    private static float Tanh(float x)
    {
        float e = DeviceMath.Exp(-2f * MathF.Abs(x));
        float magnitude = (1f - e) / (1f + e);
        return x < 0f ? -magnitude : x > 0f ? magnitude : x; // x itself at ±0 and NaN
    }
}
