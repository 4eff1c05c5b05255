namespace LeNet.Core.Modules;

/// <summary>
/// A layer or a network: named parameters (trained), named buffers (state such as running statistics), child
/// modules, and a train/eval mode. Names compose with dots as in PyTorch ("layer1.0.weight").
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Tensor)> _parameters = [];
    private readonly List<(string Name, Tensor Tensor)> _buffers = [];
    private readonly List<(string Name, Module Module)> _children = [];

    public bool Training { get; private set; } = true;

    public abstract Tensor Forward(Tensor input);

    /// <summary>
    /// PyTorch's CrossEntropyLoss(model(input), labels). A model whose last layers and the loss form one operation
    /// declares it here (LeNet5: F.HeadLoss).
    /// </summary>
    public virtual Tensor CrossEntropyLoss(Tensor input, Indices labels) =>
        Functional.F.CrossEntropy(Forward(input), labels);

    /// <summary>Sets the mode on this module and all below it.</summary>
    public Module Train(bool training = true)
    {
        Training = training;
        foreach (var (_, child) in _children) child.Train(training);
        return this;
    }

    public Module Eval() => Train(false);
    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters() => Walk(m => m._parameters);
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Tensor);
    public IEnumerable<(string Name, Tensor Tensor)> NamedBuffers() => Walk(m => m._buffers);
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children;
    public int ParameterCount() => Parameters().Sum(p => p.Length);

    /// <summary>
    /// The live tensors in PyTorch's state_dict order: each module's own parameters, then its buffers, then its
    /// children in registration order.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> StateDict() =>
        Walk(m => m._parameters.Concat(m._buffers)).ToList();

    /// <summary>Every name must be present with its shape, and no other; on any mismatch nothing changes.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, (int[] Shape, float[] Values)> state)
    {
        var own = StateDict();
        var missing = own.Where(e => !state.ContainsKey(e.Name)).Select(e => e.Name).ToList();
        var unexpected = state.Keys.Except(own.Select(e => e.Name)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException("The saved state does not match this model: " +
                (missing.Count > 0 ? $"missing {string.Join(", ", missing)}" : "") +
                (missing.Count > 0 && unexpected.Count > 0 ? "; " : "") +
                (unexpected.Count > 0 ? $"unexpected {string.Join(", ", unexpected)}" : "") + ".");
        foreach (var (name, tensor) in own)
        {
            var (shape, values) = state[name];
            if (!tensor.Shape.SequenceEqual(shape) || values.Length != tensor.Length)
                throw new ArgumentException(
                    $"The saved {name} has shape {Tensor.Format(shape)}, but this model's is " +
                    $"{Tensor.Format(tensor.Shape)}.");
        }
        foreach (var (name, tensor) in own) tensor.CopyFrom(state[name].Values);
    }

    /// <summary>
    /// Moves every parameter, buffer and gradient in place; between the CPU devices only the kernels change. Create
    /// the optimiser afterwards, so that its state lives on the same device.
    /// </summary>
    public Module To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var (_, tensor) in StateDict()) tensor.MoveTo(device);
        return this;
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    protected Tensor RegisterParameter(string name, Tensor tensor)
    {
        CheckName(name);
        tensor.RequiresGrad = true;
        _parameters.Add((name, tensor));
        return tensor;
    }

    protected Tensor RegisterBuffer(string name, Tensor tensor)
    {
        CheckName(name);
        _buffers.Add((name, tensor));
        return tensor;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add((name, module));
        module.Train(Training);
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException(
                $"'{name}' is not a valid member name: it must be non-empty and contain no dot.");
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name)
            || _children.Any(c => c.Name == name))
            throw new ArgumentException($"'{name}' is already registered on {GetType().Name}.");
    }

    private IEnumerable<(string Name, Tensor Tensor)> Walk(Func<Module, IEnumerable<(string Name, Tensor Tensor)>> own,
        string prefix = "")
    {
        foreach (var (name, tensor) in own(this)) yield return (prefix + name, tensor);
        foreach (var (name, child) in _children)
            foreach (var entry in child.Walk(own, prefix + name + "."))
                yield return entry;
    }
}
