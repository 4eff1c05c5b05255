namespace LeNet.Core.Optim;

/// <summary>
/// The learning rate of every optimiser step as a pure function of the step's index (0 for the first), so a resumed
/// run needs no schedule state beyond the step count. Each schedule is PyTorch's closed form, computed in double as
/// Python does: <c>StepLR</c> (per epoch), <c>CosineAnnealingLR</c> (per step, eta_min 0) and <c>OneCycleLR</c>
/// (cosine annealing, two phases, its default pct_start 0.3, div_factor 25, final_div_factor 1e4). An optional linear
/// warmup rises to the base rate over its first W steps, (k + 1)/W of it at step k; the schedule runs over the rest.
/// </summary>
public sealed record LearningRateSchedule
{
    public static readonly IReadOnlyList<string> Names = ["constant", "step", "cosine", "onecycle"];

    private LearningRateSchedule(string name, double baseRate, int totalSteps, int warmupSteps, int stepsPerEpoch,
        int stepEpochs, double gamma) =>
        (Name, BaseRate, TotalSteps, WarmupSteps, StepsPerEpoch, StepEpochs, Gamma) =
        (name, baseRate, totalSteps, warmupSteps, stepsPerEpoch, stepEpochs, gamma);

    public string Name { get; }
    /// <summary>The rate the schedule is built around: the constant rate, the start of step and cosine, onecycle's
    /// peak.</summary>
    public double BaseRate { get; }
    public int TotalSteps { get; }
    public int WarmupSteps { get; }
    public int StepsPerEpoch { get; }
    /// <summary>step: the rate is multiplied by <see cref="Gamma"/> every this many epochs.</summary>
    public int StepEpochs { get; }
    public double Gamma { get; }

    public static LearningRateSchedule Constant(double rate) => Create("constant", rate, 1, 0, 1);

    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="totalSteps">Every step of the run: epochs × steps per epoch.</param>
    /// <param name="stepEpochs">step only: epochs between two decays (PyTorch's step_size).</param>
    /// <param name="gamma">step only: the factor of each decay.</param>
    public static LearningRateSchedule Create(string name, double baseRate, int totalSteps, int warmupSteps,
        int stepsPerEpoch, int stepEpochs = 1, double gamma = 0.1)
    {
        if (!Names.Contains(name))
            throw new ArgumentException($"There is no schedule {name}; choose one of {string.Join(", ", Names)}.");
        if (!(baseRate > 0) || !double.IsFinite(baseRate))
            throw new ArgumentOutOfRangeException(nameof(baseRate), baseRate, "The rate must be a positive number.");
        if (totalSteps < 1 || stepsPerEpoch < 1 || stepEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), "Step and epoch counts must be at least 1.");
        if (warmupSteps < 0 || warmupSteps >= totalSteps && name != "constant")
            throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps,
                $"The warmup must be shorter than the run's {totalSteps} steps.");
        if (warmupSteps > 0 && name == "onecycle")
            throw new ArgumentException("onecycle warms up by itself (its first 30 % of steps); drop the warmup.");
        if (!(gamma > 0) || !double.IsFinite(gamma))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "The decay factor must be positive.");
        return new LearningRateSchedule(name, baseRate, totalSteps, warmupSteps, stepsPerEpoch, stepEpochs, gamma);
    }

    /// <summary>The rate of step <paramref name="step"/> (0 for the first); steps past the end keep the last
    /// rate.</summary>
    public float RateAt(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps) return (float)(BaseRate * (step + 1) / WarmupSteps);
        var t = Math.Min(step, TotalSteps - 1) - WarmupSteps;
        var span = TotalSteps - WarmupSteps;
        return (float)(Name switch
        {
            "step" => BaseRate * Math.Pow(Gamma, (step - WarmupSteps) / StepsPerEpoch / StepEpochs),
            "cosine" => BaseRate * (1 + Math.Cos(Math.PI * t / span)) / 2,
            "onecycle" => OneCycle(t),
            _ => BaseRate,
        });
    }

    private double OneCycle(int step)
    {
        const double pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4;
        double initial = BaseRate / divFactor, minimum = initial / finalDivFactor;
        double peakStep = pctStart * TotalSteps - 1, lastStep = TotalSteps - 1;
        return step <= peakStep
            ? Anneal(initial, BaseRate, peakStep <= 0 ? 1 : step / peakStep)
            : Anneal(BaseRate, minimum, (step - peakStep) / (lastStep - peakStep));
    }

    // PyTorch's _annealing_cos: from start at pct 0 to end at pct 1 along half a cosine.
    private static double Anneal(double start, double end, double pct) =>
        end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1);
}
