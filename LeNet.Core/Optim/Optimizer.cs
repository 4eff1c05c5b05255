using System.Diagnostics.CodeAnalysis;

namespace LeNet.Core.Optim;

/// <summary>Updates a fixed list of parameters from their accumulated gradients.</summary>
/// <remarks>
/// On a GPU the parameters, their gradients and each per-parameter state (e.g. Adam's moments) are packed into one
/// buffer each at the first step where every parameter has a gradient: from then on a step is one launch over the flat
/// buffers and ZeroGrad one memset, instead of one of each per tensor. The tensors stay the same objects, each a slice
/// of its buffer; moving one to another device unpacks it.
/// </remarks>
public abstract class Optimizer
{
    private Tensor? _flatParameters, _flatGrads;
    private Tensor[] _flatState = [];
    private Tensor[][]? _stateKinds;

    protected Optimizer(IEnumerable<Tensor> parameters, float learningRate)
    {
        ParameterArray = parameters.ToArray();
        if (ParameterArray.Length == 0) throw new ArgumentException("The optimiser was given no parameters.");
        if (Parameters.Any(p => !p.RequiresGrad))
            throw new ArgumentException("Every parameter given to an optimiser must require a gradient.");
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate,
                "The learning rate must be a positive finite number.");
        LearningRate = learningRate;
    }

    public IReadOnlyList<Tensor> Parameters => ParameterArray;
    // An array, so that the update loops enumerate without allocating.
    protected Tensor[] ParameterArray { get; }
    public float LearningRate { get; set; }
    /// <summary>Steps taken so far (PyTorch keeps one per parameter; all parameters here step together).</summary>
    public int StepCount { get; protected set; }

    /// <summary>
    /// The per-parameter state by PyTorch's names (Adam: exp_avg, exp_avg_sq; SGD with momentum: momentum_buffer), each
    /// list parallel to <see cref="Parameters"/>: what a checkpoint saves beside <see cref="StepCount"/>.
    /// </summary>
    public abstract IReadOnlyList<(string Name, IReadOnlyList<Tensor> Tensors)> State { get; }

    /// <summary>
    /// From a checkpoint, so that the next Step is the one an uninterrupted run would take. Every kind of
    /// <see cref="State"/> must be given, each value with its parameter's length; on any mismatch nothing changes.
    /// </summary>
    public void LoadState(int stepCount, IReadOnlyDictionary<string, IReadOnlyList<float[]>> state)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        foreach (var (name, tensors) in State)
        {
            if (!state.TryGetValue(name, out var values))
                throw new ArgumentException($"The optimiser state lacks {name}.");
            if (values.Count != tensors.Count)
                throw new ArgumentException(
                    $"The optimiser has {tensors.Count} parameters, but the state holds {values.Count} {name}.");
            for (var i = 0; i < tensors.Count; i++)
                if (values[i].Length != tensors[i].Length)
                    throw new ArgumentException(
                        $"{name} of parameter {i} must hold {tensors[i].Length} values, not {values[i].Length}.");
        }
        foreach (var (name, tensors) in State)
            for (var i = 0; i < tensors.Count; i++) tensors[i].CopyFrom(state[name][i]);
        StepCount = stepCount;
    }

    /// <summary>
    /// Parameters that have no gradient yet are skipped, as in PyTorch. With zeroGradients every gradient it used is
    /// left at zero, as ZeroGrad after it would (within the update's own launch where the device can).
    /// </summary>
    public abstract void Step(bool zeroGradients = false);

    public void ZeroGrad()
    {
        if (TryPacked(out _, out var grads, out _))
            grads.Device.Backend.Zero(grads);
        else
            foreach (var p in ParameterArray) p.ZeroGrad();
    }

    // The per-parameter state (one array per kind, parallel to the parameters) packed beside them; read once.
    protected virtual Tensor[][] PackableState => [];
    private Tensor[][] StateKinds => _stateKinds ??= PackableState;

    // The parameters, the gradients and each PackableState as flat tensors over one buffer each, packed on first use.
    // False on the CPU, while some parameter has no gradient, or when the tensors are not on one GPU; the caller then
    // updates parameter by parameter.
    internal bool TryPacked([NotNullWhen(true)] out Tensor? parameters, [NotNullWhen(true)] out Tensor? grads,
        out Tensor[] state)
    {
        (parameters, grads, state) = (null, null, _flatState);
        if (ParameterArray[0].Device.IsCpu) return false;
        if (_flatParameters is null || !StillPacked())
        {
            _flatParameters = _flatGrads = null;
            if (!Pack()) return false;
        }
        (parameters, grads, state) = (_flatParameters!, _flatGrads!, _flatState);
        return true;
    }

    private bool StillPacked()
    {
        var kinds = StateKinds;
        for (var i = 0; i < ParameterArray.Length; i++)
        {
            var p = ParameterArray[i];
            if (!p.IsPackedIn(_flatParameters!) || p.Grad is not { } grad || !grad.IsPackedIn(_flatGrads!))
                return false;
            for (var k = 0; k < kinds.Length; k++)
                if (!kinds[k][i].IsPackedIn(_flatState[k])) return false;
        }
        return true;
    }

    private bool Pack()
    {
        var grads = new Tensor[ParameterArray.Length];
        for (var i = 0; i < grads.Length; i++)
            if (ParameterArray[i].Grad is not { } grad) return false;
            else grads[i] = grad;
        var kinds = StateKinds;
        var device = ParameterArray[0].Device;
        if (grads.Concat(kinds.SelectMany(k => k)).Any(t => t.Device != device)) return false;
        var parameters = Tensor.Pack(ParameterArray);
        if (parameters is null) return false;
        var flatGrads = Tensor.Pack(grads);
        var state = kinds.Select(k => Tensor.Pack(k)).ToArray();
        if (flatGrads is null || state.Any(s => s is null)) return false;
        (_flatParameters, _flatGrads, _flatState) = (parameters, flatGrads, state!);
        return true;
    }
}
