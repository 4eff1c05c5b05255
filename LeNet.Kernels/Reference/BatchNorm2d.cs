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
    /// updates runningMean/runningVar in place: r = (1 − momentum)·r + momentum·batchStat (variance unbiased:
    /// ·n/(n−1)).
    /// </summary>
    public static void ForwardTraining<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> output, Span<T> mean, Span<T> invStd, Span<T> runningMean, Span<T> runningVar, T momentum, T eps,
        in BatchNormShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        if (shape.CountPerChannel < 2)
            throw new ArgumentException(
                $"{shape} has one value per channel; training batch normalisation needs more than one (the unbiased " +
                    "variance divides by n − 1).",
                nameof(shape));
        SpanLength.Require(input.Length, shape.Length, nameof(input), shape);
        SpanLength.Require(gamma.Length, shape.Channels, nameof(gamma), shape);
        SpanLength.Require(beta.Length, shape.Channels, nameof(beta), shape);
        SpanLength.Require(output.Length, shape.Length, nameof(output), shape);
        SpanLength.Require(mean.Length, shape.Channels, nameof(mean), shape);
        SpanLength.Require(invStd.Length, shape.Channels, nameof(invStd), shape);
        SpanLength.Require(runningMean.Length, shape.Channels, nameof(runningMean), shape);
        SpanLength.Require(runningVar.Length, shape.Channels, nameof(runningVar), shape);
        int C = shape.Channels, S = shape.Spatial;
        T count = T.CreateChecked(shape.CountPerChannel);

        for (int c = 0; c < C; c++)
        {
            // Two passes (mean, then squared deviations) rather than E[x²] − E[x]², which cancels catastrophically.
            T sum = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
            for (int s = 0; s < S; s++)
                sum += input[(n * C + c) * S + s];
            T mu = sum / count;

            T squares = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
            for (int s = 0; s < S; s++)
            {
                T d = input[(n * C + c) * S + s] - mu;
                squares += d * d;
            }
            T biasedVar = squares / count;
            T unbiasedVar = squares / (count - T.One);
            T inv = T.One / T.Sqrt(biasedVar + eps);

            for (int n = 0; n < shape.Batch; n++)
            for (int s = 0; s < S; s++)
            {
                int i = (n * C + c) * S + s;
                output[i] = gamma[c] * ((input[i] - mu) * inv) + beta[c];
            }

            mean[c] = mu;
            invStd[c] = inv;
            runningMean[c] = (T.One - momentum) * runningMean[c] + momentum * mu;
            runningVar[c] = (T.One - momentum) * runningVar[c] + momentum * unbiasedVar;
        }
    }

    /// <summary>Evaluation forward: output = gamma·(x − runningMean)/√(runningVar + eps) + beta. Overwrites
    /// output.</summary>
    public static void ForwardInference<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> runningMean, ReadOnlySpan<T> runningVar, T eps, Span<T> output, in BatchNormShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.Length, nameof(input), shape);
        SpanLength.Require(gamma.Length, shape.Channels, nameof(gamma), shape);
        SpanLength.Require(beta.Length, shape.Channels, nameof(beta), shape);
        SpanLength.Require(runningMean.Length, shape.Channels, nameof(runningMean), shape);
        SpanLength.Require(runningVar.Length, shape.Channels, nameof(runningVar), shape);
        SpanLength.Require(output.Length, shape.Length, nameof(output), shape);
        int C = shape.Channels, S = shape.Spatial;

        for (int c = 0; c < C; c++)
        {
            T inv = T.One / T.Sqrt(runningVar[c] + eps);
            for (int n = 0; n < shape.Batch; n++)
            for (int s = 0; s < S; s++)
            {
                int i = (n * C + c) * S + s;
                output[i] = gamma[c] * ((input[i] - runningMean[c]) * inv) + beta[c];
            }
        }
    }

    /// <summary>
    /// Training backward (batch statistics), given the saved mean and invStd:
    /// gammaGrad += Σ dy·x̂, betaGrad += Σ dy, inputGrad += gamma·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> outputGrad, ReadOnlySpan<T> input, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> invStd, Span<T> inputGrad, Span<T> gammaGrad, Span<T> betaGrad,
        in BatchNormShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.Length, nameof(outputGrad), shape);
        SpanLength.Require(input.Length, shape.Length, nameof(input), shape);
        SpanLength.Require(gamma.Length, shape.Channels, nameof(gamma), shape);
        SpanLength.Require(mean.Length, shape.Channels, nameof(mean), shape);
        SpanLength.Require(invStd.Length, shape.Channels, nameof(invStd), shape);
        SpanLength.Require(inputGrad.Length, shape.Length, nameof(inputGrad), shape);
        SpanLength.Require(gammaGrad.Length, shape.Channels, nameof(gammaGrad), shape);
        SpanLength.Require(betaGrad.Length, shape.Channels, nameof(betaGrad), shape);
        int C = shape.Channels, S = shape.Spatial;
        T count = T.CreateChecked(shape.CountPerChannel);

        for (int c = 0; c < C; c++)
        {
            T sumDy = T.Zero, sumDyXhat = T.Zero;
            for (int n = 0; n < shape.Batch; n++)
            for (int s = 0; s < S; s++)
            {
                int i = (n * C + c) * S + s;
                T xhat = (input[i] - mean[c]) * invStd[c];
                sumDy += outputGrad[i];
                sumDyXhat += outputGrad[i] * xhat;
            }
            T meanDy = sumDy / count, meanDyXhat = sumDyXhat / count;
            T scale = gamma[c] * invStd[c];

            for (int n = 0; n < shape.Batch; n++)
            for (int s = 0; s < S; s++)
            {
                int i = (n * C + c) * S + s;
                T xhat = (input[i] - mean[c]) * invStd[c];
                inputGrad[i] += scale * (outputGrad[i] - meanDy - xhat * meanDyXhat);
            }
            gammaGrad[c] += sumDyXhat;
            betaGrad[c] += sumDy;
        }
    }

    private static void Validate(in BatchNormShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Spatial < 1)
            throw new ArgumentException($"{shape} is not a valid batch-norm shape: all sizes must be positive.",
                nameof(shape));
    }
}
