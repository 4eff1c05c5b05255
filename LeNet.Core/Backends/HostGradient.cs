using LeNet.Core.Autograd;

namespace LeNet.Core.Backends;

/// <summary>
/// Gradient targets in host memory for kernels that only add: an overwriting target is cleared first. Shared by the
/// two host backends.
/// </summary>
internal static class HostGradient
{
    /// <summary>The target's elements, ready to be added to.</summary>
    public static Span<float> Accumulator(GradientTarget target)
    {
        var span = target.Tensor.AsSpan();
        if (target.Overwrite) span.Clear();
        return span;
    }

    /// <summary>The target's elements ready to be added to, or an empty span for a gradient nobody wants.</summary>
    public static Span<float> AccumulatorOrEmpty(GradientTarget? target) => target is { } t ? Accumulator(t) : default;

    /// <summary>
    /// The target's elements ready to be added to, or a scratch array of <paramref name="length"/> when nobody wants
    /// it.
    /// </summary>
    public static Span<float> AccumulatorOrScratch(GradientTarget? target, int length) =>
        target is { } t ? Accumulator(t) : new float[length];

    public static Span<float> Span(Tensor? tensor) => tensor is null ? default : tensor.AsSpan();
}
