// BatchNorm2d written the obvious way with TensorPrimitives over each (n, c) plane (sums in double across planes), for
// benchmark comparison.
using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>
/// Per-channel batch normalisation over [N, C, Spatial] by TensorPrimitives; same semantics and signatures as the
/// Reference kernel.
/// </summary>
public static class BatchNorm2d
{
    private const int Chunk = 1024;

    /// <summary>
    /// Training forward: overwrites output, saves mean and invStd, updates the running statistics (unbiased variance).
    /// </summary>
    public static void ForwardTraining(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> output, Span<float> mean, Span<float> invStd, Span<float> runningMean, Span<float> runningVar,
        float momentum, float eps, in BatchNormShape shape)
    {
        Check(input.Length, output.Length, gamma.Length, shape);
        int N = shape.Batch, C = shape.Channels, S = shape.Spatial;
        double count = shape.CountPerChannel;
        Span<float> centered = stackalloc float[Chunk];
        for (int c = 0; c < C; c++)
        {
            double sum = 0;
            for (int n = 0; n < N; n++)
                sum += TensorPrimitives.Sum(input.Slice((n * C + c) * S, S));
            float mu = (float)(sum / count);
            double squares = 0;
            for (int n = 0; n < N; n++)
                for (int start = 0; start < S; start += Chunk)
                {
                    int length = Math.Min(Chunk, S - start);
                    TensorPrimitives.Subtract(input.Slice((n * C + c) * S + start, length), mu, centered[..length]);
                    squares += TensorPrimitives.SumOfSquares(centered[..length]);
                }
            float inv = (float)(1 / Math.Sqrt(squares / count + eps));
            for (int n = 0; n < N; n++)
            {
                Span<float> y = output.Slice((n * C + c) * S, S);
                TensorPrimitives.Subtract(input.Slice((n * C + c) * S, S), mu, y);
                TensorPrimitives.Multiply(y, gamma[c] * inv, y);
                TensorPrimitives.Add(y, beta[c], y);
            }
            mean[c] = mu;
            invStd[c] = inv;
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mu;
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * (float)(squares / (count - 1));
        }
    }

    /// <summary>Evaluation forward: output = gamma·(x − runningMean)/√(runningVar + eps) + beta.</summary>
    public static void ForwardInference(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float eps, Span<float> output,
        in BatchNormShape shape)
    {
        Check(input.Length, output.Length, gamma.Length, shape);
        int N = shape.Batch, C = shape.Channels, S = shape.Spatial;
        for (int c = 0; c < C; c++)
        {
            float scale = gamma[c] / MathF.Sqrt(runningVar[c] + eps);
            for (int n = 0; n < N; n++)
            {
                Span<float> y = output.Slice((n * C + c) * S, S);
                TensorPrimitives.Subtract(input.Slice((n * C + c) * S, S), runningMean[c], y);
                TensorPrimitives.Multiply(y, scale, y);
                TensorPrimitives.Add(y, beta[c], y);
            }
        }
    }

    /// <summary>
    /// Training backward: gammaGrad += Σ dy·x̂, betaGrad += Σ dy, inputGrad += gamma·invStd·(dy − mean(dy) −
    /// x̂·mean(dy·x̂)).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, Span<float> inputGrad, Span<float> gammaGrad,
        Span<float> betaGrad, in BatchNormShape shape)
    {
        Check(input.Length, outputGrad.Length, gamma.Length, shape);
        SpanLength.Require(inputGrad.Length, shape.Length, nameof(inputGrad), shape);
        int N = shape.Batch, C = shape.Channels, S = shape.Spatial;
        double count = shape.CountPerChannel;
        Span<float> term = stackalloc float[Chunk];
        for (int c = 0; c < C; c++)
        {
            double sumDy = 0, sumDyX = 0;
            for (int n = 0; n < N; n++)
            {
                sumDy += TensorPrimitives.Sum(outputGrad.Slice((n * C + c) * S, S));
                sumDyX += TensorPrimitives.Dot(outputGrad.Slice((n * C + c) * S, S), input.Slice((n * C + c) * S, S));
            }
            double sumDyXhat = (sumDyX - mean[c] * sumDy) * invStd[c];
            float scale = gamma[c] * invStd[c];
            float slope = (float)(-scale * invStd[c] * (sumDyXhat / count)),
                constant = (float)(-scale * (sumDy / count));
            for (int n = 0; n < N; n++)
                for (int start = 0; start < S; start += Chunk)
                {
                    int offset = (n * C + c) * S + start, length = Math.Min(Chunk, S - start);
                    Span<float> t = term[..length];
                    TensorPrimitives.Subtract(input.Slice(offset, length), mean[c], t);
                    TensorPrimitives.Multiply(t, slope, t);
                    TensorPrimitives.Add(t, constant, t);
                    TensorPrimitives.MultiplyAdd(outputGrad.Slice(offset, length), scale, t, t);
                    TensorPrimitives.Add(inputGrad.Slice(offset, length), t, inputGrad.Slice(offset, length));
                }
            gammaGrad[c] += (float)sumDyXhat;
            betaGrad[c] += (float)sumDy;
        }
    }

    private static void Check(int inputLength, int otherLength, int channels, in BatchNormShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Spatial < 1)
            throw new ArgumentException($"{shape} is not a valid batch-norm shape: all sizes must be positive.",
                nameof(shape));
        SpanLength.Require(inputLength, shape.Length, "input", shape);
        SpanLength.Require(otherLength, shape.Length, "output", shape);
        SpanLength.Require(channels, shape.Channels, "gamma", shape);
    }
}
