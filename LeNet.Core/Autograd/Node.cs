namespace LeNet.Core.Autograd;

/// <summary>
/// A recorded operation: it holds what its forward saved and, given the gradient of its output, writes the gradients
/// of its inputs into the targets the tape hands out.
/// </summary>
public abstract class Node
{
    /// <param name="inputs">Three for most operations; a block reads more.</param>
    protected Node(int inputs = 3) => Inputs = new Tensor?[inputs];

    // Backward visits them after this node.
    internal Tensor?[] Inputs { get; }

    /// <summary>Writes ∂L/∂input for each input that requires a gradient.</summary>
    public abstract void Backward(Tensor outputGrad);

    /// <summary>
    /// The backward for ∂L/∂output = 1, which starts every pass from a scalar. A node whose forward already computed
    /// its inputs' gradients for that seed (a loss) hands them over here instead of launching anything.
    /// </summary>
    public virtual void BackwardFromOne(Device device) => Backward(device.One);
}
