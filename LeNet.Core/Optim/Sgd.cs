namespace LeNet.Core.Optim;

/// <summary>torch.optim.SGD: optional momentum, dampening, Nesterov and L2 weight decay.</summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor?[] _momentumBuffers;

    public Sgd(IEnumerable<Tensor> parameters, float learningRate, float momentum = 0f, float dampening = 0f,
        float weightDecay = 0f, bool nesterov = false) : base(parameters, learningRate)
    {
        if (!(momentum >= 0))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum cannot be negative.");
        if (!(weightDecay >= 0))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay cannot be negative.");
        if (nesterov && (momentum == 0 || dampening != 0))
            throw new ArgumentException("Nesterov momentum needs a positive momentum and zero dampening.");
        (Momentum, Dampening, WeightDecay, Nesterov) = (momentum, dampening, weightDecay, nesterov);
        _momentumBuffers = Parameters.Select(p => momentum != 0 ? Tensor.ZerosLike(p) : null).ToArray();
    }

    public float Momentum { get; }
    public float Dampening { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }
    public override IReadOnlyList<(string Name, IReadOnlyList<Tensor> Tensors)> State =>
        Momentum != 0 ? [("momentum_buffer", _momentumBuffers.Select(b => b!).ToArray())] : [];

    protected override Tensor[][] PackableState => Momentum != 0 ? [_momentumBuffers.Select(b => b!).ToArray()] : [];

    public override void Step(bool zeroGradients = false)
    {
        if (TryPacked(out var parameters, out var grads, out var buffers))
        {
            parameters.Device.Backend.SgdStep(parameters, grads, buffers.Length > 0 ? buffers[0] : null,
                StepCount == 0, LearningRate, Momentum, Dampening, WeightDecay, Nesterov, zeroGradients);
            StepCount++;
            return;
        }
        for (var i = 0; i < ParameterArray.Length; i++)
        {
            var parameter = ParameterArray[i];
            if (parameter.Grad is not { } grad) continue;
            parameter.Device.Backend.SgdStep(parameter, grad, _momentumBuffers[i], StepCount == 0,
                LearningRate, Momentum, Dampening, WeightDecay, Nesterov, zeroGradients);
        }
        StepCount++;
    }
}
