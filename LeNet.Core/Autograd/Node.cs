namespace LeNet.Core.Autograd;

/// <summary>
/// A recorded operation: it holds what its forward saved and, given the gradient of its output, adds the gradients of
/// its inputs into their <see cref="Tensor.Grad"/> buffers.
/// </summary>
public abstract class Node
{
    /// <param name="inputs">How many tensors the operation reads (three for most; a fused one may read more).</param>
    protected Node(int inputs = 3) => Inputs = new Tensor?[inputs];

    /// <summary>The tensors this operation read; backward visits them after this node.</summary>
    internal Tensor?[] Inputs { get; }

    /// <summary>Accumulates ∂L/∂input into each input's gradient that requires one.</summary>
    public abstract void Backward(Tensor outputGrad);
}
