using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>One step of stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay
/// (PyTorch's torch.optim.SGD).</summary>
public static class Sgd
{
    /// <summary>
    /// g = grad + weightDecay·p; if momentum ≠ 0: buf = firstStep ? g : momentum·buf + (1 − dampening)·g,
    /// g = nesterov ? g + momentum·buf : buf; p −= lr·g. momentumBuffer may be empty when momentum is 0.
    /// </summary>
    public static void Step<T>(Span<T> parameter, ReadOnlySpan<T> grad, Span<T> momentumBuffer, bool firstStep,
        T learningRate, T momentum, T dampening, T weightDecay, bool nesterov)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SpanLength.RequireSame(grad.Length, parameter.Length, nameof(grad), nameof(parameter));
        bool useMomentum = momentum != T.Zero;
        if (useMomentum)
            SpanLength.RequireSame(momentumBuffer.Length, parameter.Length, nameof(momentumBuffer), nameof(parameter));
        if (nesterov && (momentum <= T.Zero || dampening != T.Zero))
            throw new ArgumentException(
                "Nesterov momentum needs a positive momentum and zero dampening (as torch.optim.SGD requires).",
                nameof(nesterov));

        for (int i = 0; i < parameter.Length; i++)
        {
            T g = grad[i];
            if (weightDecay != T.Zero)
                g += weightDecay * parameter[i];
            if (useMomentum)
            {
                momentumBuffer[i] = firstStep ? g : momentum * momentumBuffer[i] + (T.One - dampening) * g;
                g = nesterov ? g + momentum * momentumBuffer[i] : momentumBuffer[i];
            }
            parameter[i] -= learningRate * g;
        }
    }
}
