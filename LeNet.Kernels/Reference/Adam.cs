using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>One Adam (or, with decoupled = true, AdamW) step over a flat parameter span, PyTorch's
/// formulation.</summary>
public static class Adam
{
    /// <summary>
    /// For step t (1-based): g = grad + weightDecay·p (L2, Adam) — or p ·= 1 − lr·weightDecay first (decoupled, AdamW);
    /// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
    /// p −= (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)   (eps added after the square root).
    /// Updates parameter, firstMoment and secondMoment in place; grad is read only.
    /// </summary>
    public static void Step<T>(Span<T> parameter, ReadOnlySpan<T> grad, Span<T> firstMoment, Span<T> secondMoment,
        int step, T learningRate, T beta1, T beta2, T eps, T weightDecay, bool decoupled = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(grad.Length, parameter.Length, nameof(grad), nameof(parameter));
        SpanLength.RequireSame(firstMoment.Length, parameter.Length, nameof(firstMoment), nameof(parameter));
        SpanLength.RequireSame(secondMoment.Length, parameter.Length, nameof(secondMoment), nameof(parameter));
        if (step < 1)
            throw new ArgumentOutOfRangeException(nameof(step), step,
                "Adam's step count starts at 1 (it is the t in the bias corrections 1 − βᵗ).");

        T t = T.CreateChecked(step);
        T biasCorrection1 = T.One - T.Pow(beta1, t);
        T biasCorrection2Sqrt = T.Sqrt(T.One - T.Pow(beta2, t));
        T stepSize = learningRate / biasCorrection1;
        T decay = T.One - learningRate * weightDecay;

        for (int i = 0; i < parameter.Length; i++)
        {
            T g = grad[i];
            if (decoupled)
                parameter[i] *= decay;
            else
                g += weightDecay * parameter[i];

            firstMoment[i] = beta1 * firstMoment[i] + (T.One - beta1) * g;
            secondMoment[i] = beta2 * secondMoment[i] + (T.One - beta2) * g * g;
            T denominator = T.Sqrt(secondMoment[i]) / biasCorrection2Sqrt + eps;
            parameter[i] -= stepSize * (firstMoment[i] / denominator); // grouped as PyTorch's addcdiv
        }
    }
}
