using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>One Adam (or, with decoupled = true, AdamW) step over a flat parameter span, PyTorch's formulation.</summary>
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
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
