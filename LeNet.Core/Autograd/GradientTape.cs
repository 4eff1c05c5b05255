namespace LeNet.Core.Autograd;

/// <summary>
/// Define-by-run reverse-mode autodiff: each operation on tensors that require gradients records a <see cref="Node"/>
/// on its output; <see cref="Backward"/> orders the recorded graph topologically and replays it in reverse.
/// </summary>
public static class GradientTape
{
    [ThreadStatic] private static int _disabledDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary>Within the returned scope nothing is recorded (evaluation, optimiser updates). Scopes nest.</summary>
    public static NoGradScope NoGrad()
    {
        _disabledDepth++;
        return new NoGradScope();
    }

    /// <summary>Ends a <see cref="NoGrad"/> scope.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => _disabledDepth--;
    }

    /// <summary>True when an operation on these inputs must be recorded.</summary>
    private static bool ShouldRecord(ReadOnlySpan<Tensor?> inputs)
    {
        if (!IsEnabled) return false;
        foreach (var t in inputs) if (t is { RequiresGrad: true }) return true;
        return false;
    }

    /// <summary>Attaches <paramref name="node"/> to <paramref name="output"/> when any input requires a gradient.</summary>
    internal static void Record(Tensor output, Node node, params Tensor?[] inputs)
    {
        if (!ShouldRecord(inputs)) return;
        node.Inputs = inputs.Where(t => t is not null).ToArray()!;
        output.GradFn = node;
        output.RequiresGrad = true;
    }

    internal static void Backward(Tensor root)
    {
        if (root.Length != 1)
            throw new InvalidOperationException($"Backward() starts from a scalar, such as a loss; this tensor has shape {Tensor.Format(root.Shape)}.");
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() was called on a tensor that does not require a gradient: no parameter it depends on has RequiresGrad set, or it was computed inside NoGrad().");

        var order = TopologicalOrder(root);
        var seed = root.GradOrZeros().AsSpan();
        seed[0] += 1f;
        for (var i = order.Count - 1; i >= 0; i--)
        {
            var tensor = order[i];
            if (tensor.GradFn is not { } node || tensor.Grad is not { } grad) continue;
            node.Backward(grad);
            // Intermediate gradients are not kept (as in PyTorch); leaves accumulate across backward passes.
            tensor.Grad = null;
        }
    }

    /// <summary>Tensors reachable from root through recorded nodes, inputs before outputs (iterative DFS).</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, bool Expanded)>();
        stack.Push((root, false));
        while (stack.Count > 0)
        {
            var (tensor, expanded) = stack.Pop();
            if (expanded) { order.Add(tensor); continue; }
            if (!visited.Add(tensor)) continue;
            stack.Push((tensor, true));
            if (tensor.GradFn is { } node)
                foreach (var input in node.Inputs)
                    if (!visited.Contains(input)) stack.Push((input, false));
        }
        return order;
    }
}
