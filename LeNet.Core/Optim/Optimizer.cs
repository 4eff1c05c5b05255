namespace LeNet.Core.Optim;

/// <summary>Updates a fixed list of parameters from their accumulated gradients.</summary>
public abstract class Optimizer
{
    protected Optimizer(IEnumerable<Tensor> parameters, float learningRate)
    {
        ParameterArray = parameters.ToArray();
        if (ParameterArray.Length == 0) throw new ArgumentException("The optimiser was given no parameters.");
        if (Parameters.Any(p => !p.RequiresGrad)) throw new ArgumentException("Every parameter given to an optimiser must require a gradient.");
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        LearningRate = learningRate;
    }

    public IReadOnlyList<Tensor> Parameters => ParameterArray;

    /// <summary>The parameters as an array, so that the update loops enumerate without allocating.</summary>
    protected Tensor[] ParameterArray { get; }

    public float LearningRate { get; set; }

    /// <summary>Applies one update; parameters that have no gradient yet are skipped, as in PyTorch.</summary>
    public abstract void Step();

    /// <summary>Zeroes every parameter's gradient in place.</summary>
    public void ZeroGrad()
    {
        foreach (var p in ParameterArray) p.ZeroGrad();
    }
}
