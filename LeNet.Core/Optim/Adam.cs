namespace LeNet.Core.Optim;

/// <summary>
/// Adam with PyTorch's defaults and formulation: eps added after the square root, bias correction, optional L2 weight
/// decay, or decoupled weight decay (AdamW) when decoupled is set.
/// </summary>
public sealed class Adam : Optimizer
{
    private readonly Tensor[] _firstMoments;
    private readonly Tensor[] _secondMoments;

    public Adam(IEnumerable<Tensor> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float eps = 1e-8f, float weightDecay = 0f, bool decoupled = false) : base(parameters, learningRate)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(beta1),
                $"Adam's betas must lie in [0, 1), not ({beta1}, {beta2}).");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Adam's eps cannot be negative.");
        if (!(weightDecay >= 0))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay cannot be negative.");
        (Beta1, Beta2, Eps, WeightDecay, Decoupled) = (beta1, beta2, eps, weightDecay, decoupled);
        _firstMoments = Parameters.Select(Tensor.ZerosLike).ToArray();
        _secondMoments = Parameters.Select(Tensor.ZerosLike).ToArray();
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float WeightDecay { get; }
    public bool Decoupled { get; }
    public IReadOnlyList<Tensor> FirstMoments => _firstMoments;
    public IReadOnlyList<Tensor> SecondMoments => _secondMoments;

    public override IReadOnlyList<(string Name, IReadOnlyList<Tensor> Tensors)> State =>
        [("exp_avg", _firstMoments), ("exp_avg_sq", _secondMoments)];

    /// <summary>From a checkpoint: <see cref="Optimizer.LoadState"/> with the two kinds of moments.</summary>
    public void LoadState(int stepCount, IReadOnlyList<float[]> firstMoments, IReadOnlyList<float[]> secondMoments) =>
        LoadState(stepCount, new Dictionary<string, IReadOnlyList<float[]>>
        {
            ["exp_avg"] = firstMoments, ["exp_avg_sq"] = secondMoments,
        });

    protected override Tensor[][] PackableState => [_firstMoments, _secondMoments];

    // Counts a step taken on the device without this method (a scheduled or replayed one, see Cuda.StepSchedule).
    internal int CountStep() => ++StepCount;

    public override void Step(bool zeroGradients = false)
    {
        if (TryPacked(out var parameters, out var grads, out var moments))
        {
            parameters.Device.Backend.AdamStep(parameters, grads, moments[0], moments[1], ++StepCount,
                LearningRate, Beta1, Beta2, Eps, WeightDecay, Decoupled, zeroGradients);
            return;
        }
        StepCount++;
        for (var i = 0; i < ParameterArray.Length; i++)
        {
            var parameter = ParameterArray[i];
            if (parameter.Grad is not { } grad) continue;
            parameter.Device.Backend.AdamStep(parameter, grad, _firstMoments[i], _secondMoments[i], StepCount,
                LearningRate, Beta1, Beta2, Eps, WeightDecay, Decoupled, zeroGradients);
        }
    }
}
