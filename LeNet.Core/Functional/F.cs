namespace LeNet.Core.Functional;

/// <summary>
/// Differentiable operations on tensors. Each operation's forward and its backward node sit together in one file named
/// for the operation (Functional.Conv2d.cs, ...); the device's backend runs the kernels.
/// </summary>
public static partial class F
{
    private static void RequireRank(Tensor tensor, int rank, string what, string layout)
    {
        if (tensor.Rank != rank)
            throw new ArgumentException($"{what} must have rank {rank} {layout}, but has shape {Tensor.Format(tensor.Shape)}.");
    }

    private static void RequireShape(Tensor tensor, string what, params ReadOnlySpan<int> shape)
    {
        if (!tensor.Shape.SequenceEqual(shape))
            throw new ArgumentException($"{what} must have shape {Tensor.Format(shape)}, but has {Tensor.Format(tensor.Shape)}.");
    }

    /// <summary>An operation's tensors must live on one device; its backend runs on the first one's.</summary>
    private static void RequireSameDevice(string operation, Tensor first, Tensor second, Tensor? third = null)
    {
        if (second.Device.IsCpu == first.Device.IsCpu && second.Device.Gpu == first.Device.Gpu && (third is null || (third.Device.IsCpu == first.Device.IsCpu && third.Device.Gpu == first.Device.Gpu)))
            return;
        throw new ArgumentException($"{operation} got tensors on different devices ({first.Device}, {second.Device}{(third is null ? "" : ", " + third.Device)}); " +
            "put them on one device first (Module.To, Tensor.To).");
    }

    /// <summary>The gradient buffer of a tensor that requires one, else null.</summary>
    private static Tensor? GradIfRequired(Tensor? tensor) => tensor is { RequiresGrad: true } ? tensor.GradOrZeros() : null;
}
