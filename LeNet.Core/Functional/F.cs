using LeNet.Core.Autograd;

namespace LeNet.Core.Functional;

/// <summary>
/// Differentiable operations on tensors. Each operation's forward and its backward node sit together in one file named
/// for the operation; the device's backend runs the kernels.
/// </summary>
public static partial class F
{
    private static void RequireRank(Tensor tensor, int rank, string what, string layout)
    {
        if (tensor.Rank != rank)
            throw new ArgumentException(
                $"{what} must have rank {rank} {layout}, but has shape {Tensor.Format(tensor.Shape)}.");
    }

    private static void RequireShape(Tensor tensor, string what, params ReadOnlySpan<int> shape)
    {
        if (!tensor.Shape.SequenceEqual(shape))
            throw new ArgumentException(
                $"{what} must have shape {Tensor.Format(shape)}, but has {Tensor.Format(tensor.Shape)}.");
    }

    // The operation's backend is the first tensor's device's.
    private static void RequireSameDevice(string operation, Tensor first, Tensor? second, Tensor? third = null)
    {
        if ((second is null || second.Device == first.Device) && (third is null || third.Device == first.Device))
            return;
        throw new ArgumentException($"{operation} got tensors on different devices ({first.Device}, {second?.Device}" +
            $"{(third is null ? "" : ", " + third.Device)}); put them on one device first (Module.To, Tensor.To).");
    }

    // A node keeping what its forward saved; the workspace hands the same node out again, so Set refills it.
    private abstract class SavingNode<TSelf, TSaved>(int inputs = 3) : Node(inputs)
        where TSelf : SavingNode<TSelf, TSaved>
    {
        protected TSaved Saved = default!;

        public TSelf Set(TSaved saved)
        {
            Saved = saved;
            return (TSelf)this;
        }
    }

    private static GradientTarget? Target(Tensor? tensor) => GradientTape.Target(tensor);
}
