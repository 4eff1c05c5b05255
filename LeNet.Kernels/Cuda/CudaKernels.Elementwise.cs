using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// The small elementwise kernels autograd needs besides the layers: Sigmoid, target += source (gradients reaching a
// tensor along two paths, or through a reshape), target += value (the seed of a backward pass), and an SGD step.
// Grid-stride loops, as the activations.
public sealed partial class CudaKernels
{
    /// <summary>The scalars of one SGD step, as Reference.Sgd.Step takes them.</summary>
    internal readonly record struct SgdScalars(float LearningRate, float Momentum, float Dampening, float WeightDecay,
        int FirstStep, int Nesterov);

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>> _sigmoidForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        int> _sigmoidBackward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int> _add = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, float, int> _addScalar = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        SgdScalars> _sgd = null!;

    private void LoadElementwise()
    {
        _sigmoidForward = Load<ArrayView<float>, ArrayView<float>>(SigmoidForwardKernel);
        _sigmoidBackward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SigmoidBackwardKernel);
        _add = Load<ArrayView<float>, ArrayView<float>, int>(AddKernel);
        _addScalar = Load<ArrayView<float>, float, int>(AddScalarKernel);
        _sgd = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdScalars>(SgdKernel);
    }

    /// <summary>output = 1/(1 + e^−input). Overwrites output; output may be input.</summary>
    public void SigmoidForward(ArrayView<float> input, ArrayView<float> output)
    {
        SpanLength.RequireSame(Checked(output.Length, nameof(output)), Checked(input.Length, nameof(input)),
            nameof(output), nameof(input));
        _sigmoidForward(Stream, StrideConfig(input.Length), input, output);
    }

    /// <summary>inputGrad += outputGrad·output·(1 − output), from the saved output.</summary>
    public void SigmoidBackward(ArrayView<float> output, ArrayView<float> outputGrad, ArrayView<float> inputGrad,
        bool accumulate = true)
    {
        SpanLength.RequireSame(Checked(outputGrad.Length, nameof(outputGrad)), Checked(output.Length, nameof(output)),
            nameof(outputGrad), nameof(output));
        SpanLength.RequireSame(Checked(inputGrad.Length, nameof(inputGrad)), Checked(output.Length, nameof(output)),
            nameof(inputGrad), nameof(output));
        _sigmoidBackward(Stream, StrideConfig(output.Length), output, outputGrad, inputGrad, accumulate ? 1 : 0);
    }

    /// <summary>target += source, elementwise (without <paramref name="accumulate"/>: target = source).</summary>
    public void Add(ArrayView<float> source, ArrayView<float> target, bool accumulate = true)
    {
        SpanLength.RequireSame(Checked(target.Length, nameof(target)), Checked(source.Length, nameof(source)),
            nameof(target), nameof(source));
        if (target.Length > 0) _add(Stream, StrideConfig(target.Length), source, target, accumulate ? 1 : 0);
    }

    /// <summary>target += value, elementwise (without <paramref name="accumulate"/>: target = value).</summary>
    public void AddScalar(ArrayView<float> target, float value, bool accumulate = true)
    {
        Checked(target.Length, nameof(target));
        if (target.Length > 0) _addScalar(Stream, StrideConfig(target.Length), target, value, accumulate ? 1 : 0);
    }

    /// <summary>
    /// One SGD step, exactly Reference.Sgd.Step: g = grad + weightDecay·p; with momentum, buf = firstStep ? g :
    /// momentum·buf + (1 − dampening)·g and g = nesterov ? g + momentum·buf : buf; then p −= lr·g. An empty
    /// momentumBuffer means no momentum.
    /// </summary>
    public void SgdStep(ArrayView<float> parameter, ArrayView<float> grad, ArrayView<float> momentumBuffer,
        bool firstStep, float learningRate, float momentum, float dampening, float weightDecay, bool nesterov)
    {
        int length = Checked(parameter.Length, nameof(parameter));
        SpanLength.RequireSame(Checked(grad.Length, nameof(grad)), length, nameof(grad), nameof(parameter));
        if (momentum != 0f)
            SpanLength.RequireSame(Checked(momentumBuffer.Length, nameof(momentumBuffer)), length,
                nameof(momentumBuffer), nameof(parameter));
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException(
                "Nesterov momentum needs a positive momentum and zero dampening (as torch.optim.SGD requires).",
                nameof(nesterov));
        if (length == 0)
            return;
        var scalars = new SgdScalars(learningRate, momentum, dampening, weightDecay, firstStep ? 1 : 0,
            nesterov ? 1 : 0);
        _sgd(Stream, StrideConfig(length), parameter, grad, OrPlaceholder(momentumBuffer, grad), scalars);
    }

    private static void SigmoidForwardKernel(ArrayView<float> input, ArrayView<float> output)
    {
        int total = (int)input.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            // 1/(1 + e^−x) for x ≥ 0, e^x/(1 + e^x) below: the exponential is ≤ 1, so it never overflows.
            float x = input[i], e = DeviceMath.Exp(-MathF.Abs(x));
            output[i] = x >= 0f ? 1f / (1f + e) : e / (1f + e);
        }
    }

    private static void SigmoidBackwardKernel(ArrayView<float> output, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, int accumulate)
    {
        int total = (int)output.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(inputGrad, i, outputGrad[i] * output[i] * (1f - output[i]), accumulate);
    }

    private static void AddKernel(ArrayView<float> source, ArrayView<float> target, int accumulate)
    {
        int total = (int)target.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(target, i, source[i], accumulate);
    }

    private static void AddScalarKernel(ArrayView<float> target, float value, int accumulate)
    {
        int total = (int)target.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(target, i, value, accumulate);
    }

    private static void SgdKernel(ArrayView<float> parameter, ArrayView<float> grad,
        ArrayView<float> momentumBuffer, SgdScalars s)
    {
        int total = (int)parameter.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            float g = grad[i];
            if (s.WeightDecay != 0f)
                g += s.WeightDecay * parameter[i];
            if (s.Momentum != 0f)
            {
                float buffer = s.FirstStep != 0 ? g : s.Momentum * momentumBuffer[i] + (1f - s.Dampening) * g;
                momentumBuffer[i] = buffer;
                g = s.Nesterov != 0 ? g + s.Momentum * buffer : buffer;
            }
            parameter[i] -= s.LearningRate * g;
        }
    }
}
