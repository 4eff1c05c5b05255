using System.Numerics;

namespace LeNet.Kernels.Reference;

/// <summary>
/// Per-channel batch normalisation over [N, C, Spatial], PyTorch semantics: training normalises with the batch
/// mean and biased variance and moves the running variance with the unbiased one; evaluation uses running statistics.
/// </summary>
public static class BatchNorm2d
{
    /// <summary>
    /// Training forward. Overwrites output, saves mean[c] and invStd[c] = 1/√(var_biased + eps) for backward, and
    /// updates runningMean/runningVar in place: r = (1 − momentum)·r + momentum·batchStat (variance unbiased: ·n/(n−1)).
    /// </summary>
    public static void ForwardTraining<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> output,
        Span<T> mean, Span<T> invStd, Span<T> runningMean, Span<T> runningVar, T momentum, T eps, in BatchNormShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>Evaluation forward: output = gamma·(x − runningMean)/√(runningVar + eps) + beta. Overwrites output.</summary>
    public static void ForwardInference<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> runningMean, ReadOnlySpan<T> runningVar, T eps, Span<T> output, in BatchNormShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();

    /// <summary>
    /// Training backward (batch statistics), given the saved mean and invStd:
    /// gammaGrad += Σ dy·x̂, betaGrad += Σ dy, inputGrad += gamma·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> input, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> invStd, Span<T> inputGrad, Span<T> gammaGrad, Span<T> betaGrad, in BatchNormShape shape)
        where T : unmanaged, IFloatingPointIeee754<T> => throw new NotImplementedException();
}
