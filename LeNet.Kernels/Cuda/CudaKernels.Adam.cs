using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Adam (or AdamW) over every parameter of a model in one launch: parameters, gradients and both moments are each
// one contiguous buffer (the tensors carved from it), so one grid-stride loop updates them all; the step's bias
// corrections are computed once on the host and passed as scalars.
public sealed partial class CudaKernels
{
    /// <summary>The scalars of one Adam step, as Reference.Adam.Step derives them from the step count t.</summary>
    internal readonly record struct AdamScalars(float Beta1, float Beta2, float Eps, float WeightDecay, float StepSize,
        float BiasCorrection2Sqrt, float Decay, int Decoupled, int ClearGradient, int EndStep = 0);

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, AdamScalars> _adam = null!;

    private void LoadAdam() =>
        _adam = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamScalars>(AdamKernel);

    /// <summary>
    /// One Adam step (step t is 1-based) over flat views, exactly Reference.Adam.Step's update. With
    /// <paramref name="clearGradient"/> the gradient is zeroed after it is read, ready for the next step's
    /// accumulating backward, which saves a separate clearing launch.
    /// </summary>
    public void AdamStep(ArrayView<float> parameter, ArrayView<float> grad, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, int step, float learningRate, float beta1, float beta2, float eps,
        float weightDecay, bool decoupled = false, bool clearGradient = false)
    {
        int length = Checked(parameter.Length, nameof(parameter));
        SpanLength.RequireSame(Checked(grad.Length, nameof(grad)), length, nameof(grad), nameof(parameter));
        SpanLength.RequireSame(Checked(firstMoment.Length, nameof(firstMoment)), length, nameof(firstMoment),
            nameof(parameter));
        SpanLength.RequireSame(Checked(secondMoment.Length, nameof(secondMoment)), length, nameof(secondMoment),
            nameof(parameter));
        if (step < 1)
            throw new ArgumentOutOfRangeException(nameof(step), step,
                "Adam's step count starts at 1 (it is the t in the bias corrections 1 − βᵗ).");
        if (length == 0)
            return;

        var (stepSize, biasCorrection2Sqrt) = AdamCorrections(step, learningRate, beta1, beta2);
        var scalars = new AdamScalars(beta1, beta2, eps, weightDecay, stepSize, biasCorrection2Sqrt,
            1f - learningRate * weightDecay, decoupled ? 1 : 0, clearGradient ? 1 : 0);
        _adam(Stream, StrideConfig(length), parameter, grad, firstMoment, secondMoment, scalars);
    }

    private static void AdamKernel(ArrayView<float> parameter, ArrayView<float> grad, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, AdamScalars a)
    {
        int total = (int)parameter.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            AdamUpdate(parameter, grad, firstMoment, secondMoment, i, a, a.StepSize, a.BiasCorrection2Sqrt, a.Decay);
    }

    /// <summary>
    /// One element's update, as Reference.Adam.Step; the step size, √(1 − β₂ᵗ) and AdamW's decay factor 1 − lr·λ come
    /// from the caller.
    /// </summary>
    private static void AdamUpdate(ArrayView<float> parameter, ArrayView<float> grad, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, int i, AdamScalars a, float stepSize, float biasCorrection2Sqrt, float decay)
    {
        float p = parameter[i], g = grad[i];
        if (a.Decoupled != 0)
            p *= decay;
        else
            g += a.WeightDecay * p;
        float m = a.Beta1 * firstMoment[i] + (1f - a.Beta1) * g;
        float v = a.Beta2 * secondMoment[i] + (1f - a.Beta2) * g * g;
        firstMoment[i] = m;
        secondMoment[i] = v;
        parameter[i] = p - stepSize * (m / (MathF.Sqrt(v) / biasCorrection2Sqrt + a.Eps));
        if (a.ClearGradient != 0)
            grad[i] = 0f;
    }
}
