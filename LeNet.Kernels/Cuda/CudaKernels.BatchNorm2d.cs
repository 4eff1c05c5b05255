using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// BatchNorm2d over [N, C, Spatial]: training forward and backward give one group to each channel, which sums the
// channel in shared memory (two passes for the variance, as Reference) and then normalises it, all in one launch;
// inference is elementwise.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float,
        BatchNormShape> _batchNormForwardTraining = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, float, ArrayView<float>, BatchNormShape> _batchNormForwardInference = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        BatchNormShape> _batchNormBackward = null!;

    private void LoadBatchNorm2d()
    {
        _batchNormForwardTraining = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, BatchNormShape>(
            BatchNormForwardTrainingKernel);
        _batchNormForwardInference = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, float, ArrayView<float>, BatchNormShape>(BatchNormForwardInferenceKernel);
        _batchNormBackward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, BatchNormShape>(
            BatchNormBackwardKernel);
    }

    /// <summary>
    /// Training forward, as Reference: overwrites output, saves mean[c] and invStd[c] = 1/√(biased var + eps), and
    /// moves runningMean/runningVar by momentum (the variance unbiased). One launch, one group per channel.
    /// </summary>
    public void BatchNorm2dForwardTraining(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> output, ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> runningMean,
        ArrayView<float> runningVar, float momentum, float eps, in BatchNormShape shape)
    {
        ValidateBatchNormTraining(shape);
        RequireTensor(input, nameof(input), shape);
        RequireTensor(output, nameof(output), shape);
        RequireChannels(gamma, beta, mean, invStd, runningMean, runningVar, shape);
        _batchNormForwardTraining(Stream, new KernelConfig(shape.Channels, ReductionGroupSize), input, gamma, beta,
            output, mean, invStd, runningMean, runningVar, momentum, eps, shape);
    }

    /// <summary>Evaluation forward: output = gamma·(x − runningMean)/√(runningVar + eps) + beta. Overwrites
    /// output.</summary>
    public void BatchNorm2dForwardInference(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float eps, ArrayView<float> output,
        in BatchNormShape shape)
    {
        ValidateBatchNorm(shape);
        RequireTensor(input, nameof(input), shape);
        RequireTensor(output, nameof(output), shape);
        RequireChannels(gamma, beta, runningMean, runningVar, gamma, gamma, shape);
        _batchNormForwardInference(Stream, StrideConfig(shape.Length), input, gamma, beta, runningMean, runningVar,
            eps, output, shape);
    }

    /// <summary>
    /// Training backward from the saved mean and invStd: gammaGrad += Σ dy·x̂, betaGrad += Σ dy,
    /// inputGrad += gamma·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)). One launch, one group per channel.
    /// </summary>
    public void BatchNorm2dBackward(ArrayView<float> outputGrad, ArrayView<float> input, ArrayView<float> gamma,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> inputGrad, ArrayView<float> gammaGrad,
        ArrayView<float> betaGrad, in BatchNormShape shape)
    {
        ValidateBatchNorm(shape);
        RequireTensor(outputGrad, nameof(outputGrad), shape);
        RequireTensor(input, nameof(input), shape);
        RequireTensor(inputGrad, nameof(inputGrad), shape);
        RequireChannels(gamma, mean, invStd, gammaGrad, betaGrad, gamma, shape);
        _batchNormBackward(Stream, new KernelConfig(shape.Channels, ReductionGroupSize), outputGrad, input, gamma, mean,
            invStd, inputGrad, gammaGrad, betaGrad, shape);
    }

    private static void BatchNormForwardTrainingKernel(ArrayView<float> input, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> output, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps, BatchNormShape shape)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int c = Grid.IdxX;
        float mu = 0f, inv = 0f;
        ChannelStatistics(scratch, input, c, shape, momentum, eps, mean, invStd, runningMean, runningVar,
            ref mu, ref inv);

        int C = shape.Channels, S = shape.Spatial, count = shape.CountPerChannel;
        float scale = gamma[c] * inv, shift = beta[c];
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int i = (j / S * C + c) * S + j % S;
            output[i] = scale * (input[i] - mu) + shift;
        }
    }

    /// <summary>
    /// Mean and 1/√(biased var + eps) of channel c (two passes over it), returned to every thread of the group;
    /// thread 0 stores them and moves the running statistics.
    /// </summary>
    internal static void ChannelStatistics(ArrayView<float> scratch, ArrayView<float> input, int c,
        BatchNormShape shape, float momentum, float eps, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ref float mu, ref float inv)
    {
        int C = shape.Channels, S = shape.Spatial, count = shape.CountPerChannel;
        float sum = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
            sum += input[(j / S * C + c) * S + j % S];
        mu = GroupReduction.Sum(scratch, sum) / count;

        float squares = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            float d = input[(j / S * C + c) * S + j % S] - mu;
            squares += d * d;
        }
        squares = GroupReduction.Sum(scratch, squares);
        inv = 1f / MathF.Sqrt(squares / count + eps);

        if (Group.IdxX == 0)
        {
            mean[c] = mu;
            invStd[c] = inv;
            runningMean[c] = (1f - momentum) * runningMean[c] + momentum * mu;
            runningVar[c] = (1f - momentum) * runningVar[c] + momentum * (squares / (count - 1));
        }
    }

    private static void BatchNormForwardInferenceKernel(ArrayView<float> input, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> runningMean, ArrayView<float> runningVar, float eps,
        ArrayView<float> output, BatchNormShape shape)
    {
        int total = shape.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            int c = i / shape.Spatial % shape.Channels;
            output[i] = gamma[c] * ((input[i] - runningMean[c]) / MathF.Sqrt(runningVar[c] + eps)) + beta[c];
        }
    }

    private static void BatchNormBackwardKernel(ArrayView<float> outputGrad, ArrayView<float> input,
        ArrayView<float> gamma, ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> inputGrad,
        ArrayView<float> gammaGrad, ArrayView<float> betaGrad, BatchNormShape shape)
    {
        var scratchDy = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        var scratchDyXhat = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int c = Grid.IdxX, C = shape.Channels, S = shape.Spatial, count = shape.CountPerChannel;
        float mu = mean[c], inv = invStd[c];

        float sumDy = 0f, sumDyXhat = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int i = (j / S * C + c) * S + j % S;
            float dy = outputGrad[i];
            sumDy += dy;
            sumDyXhat += dy * ((input[i] - mu) * inv);
        }
        var (totalDy, totalDyXhat) = GroupReduction.Sum2(scratchDy, scratchDyXhat, sumDy, sumDyXhat);
        float meanDy = totalDy / count, meanDyXhat = totalDyXhat / count, scale = gamma[c] * inv;

        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int i = (j / S * C + c) * S + j % S;
            inputGrad[i] += scale * (outputGrad[i] - meanDy - (input[i] - mu) * inv * meanDyXhat);
        }
        if (Group.IdxX == 0)
        {
            gammaGrad[c] += totalDyXhat;
            betaGrad[c] += totalDy;
        }
    }

    private static void ValidateBatchNorm(in BatchNormShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Spatial < 1)
            throw new ArgumentException($"{shape} is not a valid batch-norm shape: all sizes must be positive.",
                nameof(shape));
    }

    private static void ValidateBatchNormTraining(in BatchNormShape shape)
    {
        ValidateBatchNorm(shape);
        if (shape.CountPerChannel < 2)
            throw new ArgumentException(
                $"{shape} has one value per channel; training batch normalisation needs more than one (the unbiased " +
                    "variance divides by n − 1).",
                nameof(shape));
    }

    private static void RequireTensor(ArrayView<float> view, string name, in BatchNormShape shape) =>
        SpanLength.Require(Checked(view.Length, name), shape.Length, name, shape);

    private static void RequireChannels(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d,
        ArrayView<float> e, ArrayView<float> f, in BatchNormShape shape)
    {
        // Per-channel vectors; the caller repeats one when it has fewer than six. Names are positional, so say which.
        Span<long> lengths = [a.Length, b.Length, c.Length, d.Length, e.Length, f.Length];
        for (int i = 0; i < lengths.Length; i++)
            if (lengths[i] != shape.Channels)
                throw new ArgumentException(
                    $"Per-channel argument {i + 1} has length {lengths[i]}, but {shape} needs {shape.Channels}.");
    }
}
