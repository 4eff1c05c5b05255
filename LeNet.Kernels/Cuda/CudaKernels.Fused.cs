using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// BatchNorm2d → ReLU → MaxPool2d fused, as each block of LeNet-5 runs them: the training forward gives one group to
// each channel (statistics, then each pooled output normalised, rectified and maximised straight from the
// convolution's output, which is never written normalised); the backward recomputes x̂ and the ReLU mask from the
// saved statistics and gathers the pooled gradient, so the whole block is one launch each way.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, PoolShape> _bnReluMaxPoolForwardTraining = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, PoolShape> _bnReluMaxPoolForwardInference = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, PoolShape> _bnReluMaxPoolBackward = null!;

    private void LoadFused()
    {
        _bnReluMaxPoolForwardTraining = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, PoolShape>(BatchNormReluMaxPoolForwardTrainingKernel);
        _bnReluMaxPoolForwardInference = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, PoolShape>(BatchNormReluMaxPoolForwardInferenceKernel);
        _bnReluMaxPoolBackward = Accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, PoolShape>(BatchNormReluMaxPoolBackwardKernel);
    }

    /// <summary>
    /// pooled [N,C,P,Q] = MaxPool(ReLU(BatchNorm(input [N,C,H,W]))) in training mode, with argmax (flat indices into input,
    /// as MaxPool2dForward over the ReLU output), mean, invStd and running statistics exactly as BatchNorm2dForwardTraining.
    /// The pool's shape describes input; BatchNorm's is (N, C, H·W).
    /// </summary>
    public void BatchNormReluMaxPoolForwardTraining(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> pooled, ArrayView<int> argmax,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps, in PoolShape shape)
    {
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        ValidateBatchNormTraining(normShape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(pooled.Length, nameof(pooled)), shape.OutputLength, nameof(pooled), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        RequireChannels(gamma, beta, mean, invStd, runningMean, runningVar, normShape);
        _bnReluMaxPoolForwardTraining(Stream, new KernelConfig(shape.Channels, ReductionGroupSize), input, gamma, beta, pooled, argmax,
            mean, invStd, runningMean, runningVar, momentum, eps, shape);
    }

    /// <summary>pooled = MaxPool(ReLU(BatchNorm(input))) with running statistics (evaluation); one thread per pooled output, no argmax.</summary>
    public void BatchNormReluMaxPoolForwardInference(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float eps, ArrayView<float> pooled, in PoolShape shape)
    {
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(pooled.Length, nameof(pooled)), shape.OutputLength, nameof(pooled), shape);
        RequireChannels(gamma, beta, runningMean, runningVar, gamma, gamma, normShape);
        _bnReluMaxPoolForwardInference(Stream, StrideConfig(shape.OutputLength), input, gamma, beta, runningMean, runningVar, eps, pooled, shape);
    }

    /// <summary>
    /// The backward of <see cref="BatchNormReluMaxPoolForwardTraining"/>: from pooledGrad and argmax, the ReLU mask
    /// (normalised value &gt; 0) and the saved mean and invStd, accumulates inputGrad, gammaGrad and betaGrad exactly as
    /// MaxPool2dBackward → ReLUBackward → BatchNorm2dBackward would.
    /// </summary>
    public void BatchNormReluMaxPoolBackward(ArrayView<float> pooledGrad, ArrayView<int> argmax, ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> inputGrad, ArrayView<float> gammaGrad, ArrayView<float> betaGrad, in PoolShape shape)
    {
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        SpanLength.Require(Checked(pooledGrad.Length, nameof(pooledGrad)), shape.OutputLength, nameof(pooledGrad), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength, nameof(inputGrad), shape);
        RequireChannels(gamma, beta, mean, invStd, gammaGrad, betaGrad, normShape);
        _bnReluMaxPoolBackward(Stream, new KernelConfig(shape.Channels, ReductionGroupSize), pooledGrad, argmax, input, gamma, beta,
            mean, invStd, inputGrad, gammaGrad, betaGrad, shape);
    }

    private static void BatchNormReluMaxPoolForwardTrainingKernel(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> pooled, ArrayView<int> argmax,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps, PoolShape shape)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int c = Grid.IdxX;
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        float mu = 0f, inv = 0f;
        ChannelStatistics(scratch, input, c, normShape, momentum, eps, mean, invStd, runningMean, runningVar, ref mu, ref inv);

        float scale = gamma[c] * inv, shift = beta[c];
        int P = shape.OutHeight, Q = shape.OutWidth, perChannel = shape.Batch * P * Q;
        for (int j = Group.IdxX; j < perChannel; j += Group.DimX)
        {
            int q = j % Q, p = j / Q % P, n = j / (P * Q);
            int o = ((n * shape.Channels + c) * P + p) * Q + q;
            PoolNormalised(input, scale, mu, shift, n * shape.Channels + c, p, q, shape, out float max, out int best);
            pooled[o] = max;
            argmax[o] = best;
        }
    }

    /// <summary>Max over window (p, q) of plane of ReLU(scale·(x − mu) + shift), first maximum on ties, as MaxPool2dForward over the ReLU output.</summary>
    private static void PoolNormalised(ArrayView<float> input, float scale, float mu, float shift, int plane, int p, int q, PoolShape shape, out float max, out int best)
    {
        int H = shape.Height, W = shape.Width;
        best = (plane * H + p * shape.Stride) * W + q * shape.Stride;
        max = Relu(scale * (input[best] - mu) + shift);
        for (int r = 0; r < shape.Kernel; r++)
        for (int s = 0; s < shape.Kernel; s++)
        {
            int i = (plane * H + p * shape.Stride + r) * W + q * shape.Stride + s;
            float value = Relu(scale * (input[i] - mu) + shift);
            if (value > max || float.IsNaN(value))
            {
                max = value;
                best = i;
            }
        }
    }

    private static void BatchNormReluMaxPoolForwardInferenceKernel(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float eps, ArrayView<float> pooled, PoolShape shape)
    {
        int P = shape.OutHeight, Q = shape.OutWidth, total = shape.OutputLength, stride = Grid.DimX * Group.DimX;
        for (int o = Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += stride)
        {
            int q = o % Q, p = o / Q % P, plane = o / (P * Q), c = plane % shape.Channels;
            float inv = 1f / MathF.Sqrt(runningVar[c] + eps);
            PoolNormalised(input, gamma[c] * inv, runningMean[c], beta[c], plane, p, q, shape, out float max, out int _);
            pooled[o] = max;
        }
    }

    private static void BatchNormReluMaxPoolBackwardKernel(ArrayView<float> pooledGrad, ArrayView<int> argmax, ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> inputGrad, ArrayView<float> gammaGrad, ArrayView<float> betaGrad, PoolShape shape)
    {
        var scratchDy = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        var scratchDyXhat = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int c = Grid.IdxX, C = shape.Channels, S = shape.Height * shape.Width, count = shape.Batch * S;
        float mu = mean[c], inv = invStd[c], g = gamma[c], b = beta[c];

        float sumDy = 0f, sumDyXhat = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int i = (j / S * C + c) * S + j % S;
            float xhat = (input[i] - mu) * inv;
            float dy = NormalisedGradientAt(pooledGrad, argmax, i, g * inv, mu, b, input[i], shape);
            sumDy += dy;
            sumDyXhat += dy * xhat;
        }
        var (totalDy, totalDyXhat) = GroupReduction.Sum2(scratchDy, scratchDyXhat, sumDy, sumDyXhat);
        float meanDy = totalDy / count, meanDyXhat = totalDyXhat / count, scale = g * inv;

        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int i = (j / S * C + c) * S + j % S;
            float xhat = (input[i] - mu) * inv;
            float dy = NormalisedGradientAt(pooledGrad, argmax, i, g * inv, mu, b, input[i], shape);
            inputGrad[i] += scale * (dy - meanDy - xhat * meanDyXhat);
        }
        if (Group.IdxX == 0)
        {
            gammaGrad[c] += totalDyXhat;
            betaGrad[c] += totalDy;
        }
    }

    /// <summary>∂L/∂(BatchNorm output) at element i: the pooled gradient gathered as MaxPool2dBackward, where the normalised value passed the ReLU.</summary>
    private static float NormalisedGradientAt(ArrayView<float> pooledGrad, ArrayView<int> argmax, int i, float scale, float mu, float shift, float x, PoolShape shape)
    {
        // Same expression as the forward's, so the mask agrees with the forward's choice bit for bit.
        if (!(scale * (x - mu) + shift > 0f))
            return 0f;
        return MaxPoolGradientAt(pooledGrad, argmax, i, shape);
    }

    private static float Relu(float value) => value > 0f || float.IsNaN(value) ? value : 0f;
}
