using LeNet.Core.Autograd;

namespace LeNet.Core.Backends;

/// <summary>
/// Gradient targets in host memory for kernels that only add: an overwriting target is cleared first.
/// </summary>
internal static class HostGradient
{
    public static Span<float> Accumulator(GradientTarget target)
    {
        var span = target.Tensor.AsSpan();
        if (target.Overwrite) span.Clear();
        return span;
    }

    /// <summary>A scratch array of <paramref name="length"/> stands in for a gradient nobody wants.</summary>
    public static Span<float> AccumulatorOrScratch(GradientTarget? target, int length) =>
        target is { } t ? Accumulator(t) : new float[length];

    public static Span<float> Span(Tensor? tensor) => tensor is null ? default : tensor.AsSpan();
}
