using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>One step of stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay (PyTorch's torch.optim.SGD).</summary>
public static class Sgd
{
    /// <summary>
    /// g = grad + weightDecay·p; if momentum ≠ 0: buf = firstStep ? g : momentum·buf + (1 − dampening)·g,
    /// g = nesterov ? g + momentum·buf : buf; p −= lr·g. momentumBuffer may be empty when momentum is 0.
    /// </summary>
    public static void Step<T>(Span<T> parameter, ReadOnlySpan<T> grad, Span<T> momentumBuffer, bool firstStep,
        T learningRate, T momentum, T dampening, T weightDecay, bool nesterov)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
