namespace LeNet.Core.Autograd;

/// <summary>
/// Define-by-run reverse-mode autodiff: each operation on tensors that require gradients records a Node on its output;
/// Backward orders the recorded graph topologically and replays it in reverse.
/// </summary>
/// <remarks>
/// The gradient rule: a tensor without a gradient gets a buffer from its first writer in a pass (a new one, which
/// holds zeros, or the one an earlier pass released, which holds stale values and which the first writer overwrites),
/// and later writers add. The tape says which through Target, so no reused buffer is cleared that a kernel writes
/// whole anyway. Leaves keep their gradients across passes (the optimiser's step zeroes them).
/// </remarks>
public static class GradientTape
{
    [ThreadStatic] private static int _disabledDepth;

    /// <summary>Per thread.</summary>
    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary>Within the returned scope nothing is recorded (evaluation, optimiser updates). Scopes nest.</summary>
    public static NoGradScope NoGrad()
    {
        _disabledDepth++;
        return new NoGradScope();
    }

    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => _disabledDepth--;
    }

    internal static bool ShouldRecord(Tensor? a, Tensor? b = null, Tensor? c = null, Tensor? d = null,
        Tensor? e = null) =>
        IsEnabled && (a is { RequiresGrad: true } || b is { RequiresGrad: true } || c is { RequiresGrad: true }
                      || d is { RequiresGrad: true } || e is { RequiresGrad: true });

    // The inputs the node read; null: absent.
    internal static void Record(Tensor output, Node node, Tensor? a, Tensor? b = null, Tensor? c = null,
        Tensor? d = null, Tensor? e = null)
    {
        var inputs = node.Inputs;
        (inputs[0], inputs[1], inputs[2]) = (a, b, c);
        if (inputs.Length > 3) inputs[3] = d;
        if (inputs.Length > 4) inputs[4] = e;
        (output.GradFn, output.RequiresGrad) = (node, true);
    }

    /// <summary>Where a node writes the input's gradient, or null when it needs none.</summary>
    public static GradientTarget? Target(Tensor? input)
    {
        if (input is not { RequiresGrad: true }) return null;
        if (input.Grad is { } grad) return new GradientTarget(grad, Overwrite: false);
        var (buffer, stale) = input.TakeGradBuffer();
        return new GradientTarget(buffer, Overwrite: stale);
    }

    // Hands over a gradient a node already holds whole (a view's, or one its forward computed): it becomes the input's
    // gradient when it is the first, without a copy, else it is added.
    internal static void Pass(Tensor input, Tensor gradient)
    {
        if (!input.RequiresGrad) return;
        if (input.Grad is null && !input.IsLeaf) input.AdoptGrad(gradient);
        else input.Device.Backend.Accumulate(gradient, Target(input)!.Value);
    }

    internal static void Backward(Tensor root)
    {
        if (root.Length != 1)
            throw new InvalidOperationException(
                $"Backward() starts from a scalar, such as a loss; this tensor has shape {Tensor.Format(root.Shape)}.");
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() was called on a tensor that does not require a gradient: " +
                "no parameter it depends on has RequiresGrad set, or it was computed inside NoGrad().");

        var order = TopologicalOrder(root);
        var last = order.Count - 1; // the root: every other tensor reached is an input of something after it
        if (root.GradFn is { } rootNode && root.Grad is null)
        {
            rootNode.BackwardFromOne(root.Device);
            last--;
        }
        else root.Device.Backend.AddScalar(Target(root)!.Value, 1f);
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

    // Inputs before outputs (iterative DFS).
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
