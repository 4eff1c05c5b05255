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

    /// <summary>True when an operation on these inputs must be recorded: taping is on and one of them requires a gradient.</summary>
    internal static bool ShouldRecord(Tensor? a, Tensor? b = null, Tensor? c = null) =>
        IsEnabled && (a is { RequiresGrad: true } || b is { RequiresGrad: true } || c is { RequiresGrad: true });

    /// <summary>
    /// Attaches <paramref name="node"/> to <paramref name="output"/> with the inputs it read (null for an absent
    /// optional input). Operations call it only when <see cref="ShouldRecord"/> said so.
    /// </summary>
    internal static void Record(Tensor output, Node node, Tensor? a, Tensor? b = null, Tensor? c = null)
    {
        node.Inputs[0] = a;
        node.Inputs[1] = b;
        node.Inputs[2] = c;
        output.GradFn = node;
        output.RequiresGrad = true;
    }

    /// <summary><see cref="Record(Tensor, Node, Tensor?, Tensor?, Tensor?)"/> for an operation of five inputs (its node made with room for them).</summary>
    internal static void Record(Tensor output, Node node, Tensor? a, Tensor? b, Tensor? c, Tensor? d, Tensor? e)
    {
        Record(output, node, a, b, c);
        node.Inputs[3] = d;
        node.Inputs[4] = e;
    }

    internal static void Backward(Tensor root)
    {
        if (root.Length != 1)
            throw new InvalidOperationException($"Backward() starts from a scalar, such as a loss; this tensor has shape {Tensor.Format(root.Shape)}.");
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() was called on a tensor that does not require a gradient: no parameter it depends on has RequiresGrad set, or it was computed inside NoGrad().");

        var order = TopologicalOrder(root);
        var last = order.Count - 1; // the root: every other tensor reached is an input of something after it
        if (root.Grad is null && root.Rank == 0 && root.GradFn is { } rootNode)
        {
            // A scalar root's gradient is 1: its node reads the device's constant one, where a fresh buffer would have
            // to be filled with 1 first (one launch fewer per step on a GPU).
            rootNode.Backward(root.Device.One);
            last--;
        }
        else
        {
            var seed = root.GradOrZeros();
            seed.Device.Backend.AddScalar(seed, 1f);
        }
        for (var i = last; i >= 0; i--)
        {
            var tensor = order[i];
            if (tensor.GradFn is not { } node || tensor.Grad is not { } grad) continue;
            node.Backward(grad);
            // Intermediate gradients are not kept (as in PyTorch); leaves accumulate across backward passes.
            tensor.ReleaseGrad();
        }
        order.Clear();
    }

    // The traversal's collections are kept per thread, so that a backward pass allocates nothing once warm.
    [ThreadStatic] private static List<Tensor>? _order;
    [ThreadStatic] private static HashSet<Tensor>? _visited;
    [ThreadStatic] private static Stack<(Tensor Tensor, bool Expanded)>? _stack;

    /// <summary>Tensors reachable from root through recorded nodes, inputs before outputs (iterative DFS).</summary>
    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = _order ??= [];
        var visited = _visited ??= new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = _stack ??= new Stack<(Tensor Tensor, bool Expanded)>();
        order.Clear();
        visited.Clear();
        stack.Clear();
        stack.Push((root, false));
        while (stack.Count > 0)
        {
            var (tensor, expanded) = stack.Pop();
            if (expanded) { order.Add(tensor); continue; }
            if (!visited.Add(tensor)) continue;
            stack.Push((tensor, true));
            if (tensor.GradFn is { } node)
                foreach (var input in node.Inputs)
                    if (input is not null && !visited.Contains(input)) stack.Push((input, false));
        }
        visited.Clear();
        return order;
    }
}
