using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// BatchNorm2d → ReLU → MaxPool2d fused, as each block of LeNet-5 runs them. Layout: each channel's N planes [H, W] are
// cut into chunks of whole planes (planesPerChunk = ChunkElementsPerThread·GroupSize / (H·W), at least 1; the last
// chunk of a channel may be shorter), and every launch of the training forward and the backward has one group per
// (channel c, chunk g), group index c·G + g. Two launches each way, no atomics, so results are bit-identical
// run to run:
//   forward  A: each group writes its chunk's (Σx, Σ(x − chunk mean)²) to partials[2·(c·G + g) ..];
//            B: each group combines its channel's G partials in chunk order (Chan's parallel variance, a group-wide
//               tree), then normalises, rectifies and max-pools the pooled outputs of its chunk's planes straight from
//               the convolution's output (never written normalised); group (c, 0) stores mean, invStd, running stats.
//   backward A: each group writes its chunk's (Σdy, Σdy·x̂) over its pooled outputs: each output's gradient where the
//               element it chose (argmax) passed the ReLU, the mask recomputed from the saved statistics;
//            B: each group combines its channel's partials and accumulates inputGrad over its chunk, window by window
//               where the windows tile the planes (LeNet's do), else element by element gathering from the windows that
//               chose it; group (c, 0) adds gammaGrad and betaGrad.
// Chunks of whole planes keep the index arithmetic to one division per element (plane, then row). The partials live in
// one device buffer owned by these kernels, grown when a larger shape arrives; launches on one stream use it in turn.
// Inference is one launch, one thread per pooled output.
public sealed partial class CudaKernels
{
    /// <summary>Elements of a chunk per thread of its group, roughly (chunks are whole planes): 1024 on a 256-thread
    /// GPU group.</summary>
    internal const int ChunkElementsPerThread = 4;

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int,
        PoolShape> _bnReLUMaxPoolStatistics = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, float, float, int, PoolShape> _bnReLUMaxPoolForwardTraining = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, float, ArrayView<float>, PoolShape> _bnReLUMaxPoolForwardInference = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
        PoolShape> _bnReLUMaxPoolGradientSums = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, int, PoolShape, int> _bnReLUMaxPoolBackward = null!;

    /// <summary>Per-(channel, chunk) partial sums between the two launches of a fused op; grown, never
    /// shrunk.</summary>
    private MemoryBuffer1D<float, Stride1D.Dense>? _fusedPartials;

    /// <summary>Held while a fused op claims the partials and queues its two launches, so concurrent callers queue them
    /// in pairs.</summary>
    private readonly Lock _fusedPartialsLock = new();

    private void LoadFused()
    {
        _bnReLUMaxPoolStatistics = Load<ArrayView<float>, ArrayView<float>, int, PoolShape>(
            BatchNormReLUMaxPoolStatisticsKernel);
        _bnReLUMaxPoolForwardInference = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, float, ArrayView<float>, PoolShape>(BatchNormReLUMaxPoolForwardInferenceKernel);
        if (!Options.SpecializeShapes)
        {
            _bnReLUMaxPoolForwardTraining = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, float, float, int, PoolShape>(BatchNormReLUMaxPoolForwardTrainingKernel);
            _bnReLUMaxPoolGradientSums = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
                PoolShape>(BatchNormReLUMaxPoolGradientSumsKernel);
            _bnReLUMaxPoolBackward = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, int, PoolShape, int>(BatchNormReLUMaxPoolBackwardKernel);
            return;
        }
        // The training step's fused launches compiled per shape, as the convolutions (chunk and plane sizes constant).
        var forward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float,
            SpecializedValue<int>, SpecializedValue<PoolShape>>(BatchNormReLUMaxPoolForwardTrainingSpecializedKernel);
        _bnReLUMaxPoolForwardTraining = (stream, config, input, partials, gamma, beta, pooled, argmax, mean, invStd,
            runningMean, runningVar, momentum, eps, planes, shape) =>
            forward(stream, config, input, partials, gamma, beta, pooled, argmax, mean, invStd, runningMean, runningVar,
                momentum, eps, SpecializedValue.New(planes), SpecializedValue.New(shape));
        var sums = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, SpecializedValue<int>,
            SpecializedValue<PoolShape>>(BatchNormReLUMaxPoolGradientSumsSpecializedKernel);
        _bnReLUMaxPoolGradientSums = (stream, config, pooledGrad, argmax, input, gamma, beta, mean, invStd, partials,
            planes, shape) =>
            sums(stream, config, pooledGrad, argmax, input, gamma, beta, mean, invStd, partials,
                SpecializedValue.New(planes), SpecializedValue.New(shape));
        var backward = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            SpecializedValue<int>, SpecializedValue<PoolShape>, int>(BatchNormReLUMaxPoolBackwardSpecializedKernel);
        _bnReLUMaxPoolBackward = (stream, config, pooledGrad, argmax, input, gamma, beta, mean, invStd, partials,
            inputGrad, gammaGrad, betaGrad, planes, shape, accumulate) =>
            backward(stream, config, pooledGrad, argmax, input, gamma, beta, mean, invStd, partials, inputGrad,
                gammaGrad, betaGrad, SpecializedValue.New(planes), SpecializedValue.New(shape), accumulate);
    }

    /// <summary>
    /// <see cref="BatchNormReLUMaxPoolForwardTrainingKernel"/> compiled for one chunking and shape
    /// (<see cref="GpuOptions.SpecializeShapes"/>).
    /// </summary>
    private static void BatchNormReLUMaxPoolForwardTrainingSpecializedKernel(ArrayView<float> input,
        ArrayView<float> partials, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> pooled,
        ArrayView<int> argmax, ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> runningMean,
        ArrayView<float> runningVar, float momentum, float eps, SpecializedValue<int> planesPerChunk,
        SpecializedValue<PoolShape> shape) =>
        BatchNormReLUMaxPoolForwardTrainingKernel(input, partials, gamma, beta, pooled, argmax, mean, invStd,
            runningMean, runningVar, momentum, eps, planesPerChunk.Value, shape.Value);

    /// <summary>
    /// <see cref="BatchNormReLUMaxPoolGradientSumsKernel"/> compiled for one chunking and shape
    /// (<see cref="GpuOptions.SpecializeShapes"/>).
    /// </summary>
    private static void BatchNormReLUMaxPoolGradientSumsSpecializedKernel(ArrayView<float> pooledGrad,
        ArrayView<int> argmax, ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> partials, SpecializedValue<int> planesPerChunk,
        SpecializedValue<PoolShape> shape) =>
        BatchNormReLUMaxPoolGradientSumsKernel(pooledGrad, argmax, input, gamma, beta, mean, invStd, partials,
            planesPerChunk.Value, shape.Value);

    /// <summary>
    /// <see cref="BatchNormReLUMaxPoolBackwardKernel"/> compiled for one chunking and shape
    /// (<see cref="GpuOptions.SpecializeShapes"/>).
    /// </summary>
    private static void BatchNormReLUMaxPoolBackwardSpecializedKernel(ArrayView<float> pooledGrad,
        ArrayView<int> argmax, ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> partials, ArrayView<float> inputGrad,
        ArrayView<float> gammaGrad, ArrayView<float> betaGrad, SpecializedValue<int> planesPerChunk,
        SpecializedValue<PoolShape> shape, int accumulateInput) =>
        BatchNormReLUMaxPoolBackwardKernel(pooledGrad, argmax, input, gamma, beta, mean, invStd, partials, inputGrad,
            gammaGrad, betaGrad, planesPerChunk.Value, shape.Value, accumulateInput);

    /// <summary>Whole planes per chunk of the fused kernels for <paramref name="shape"/>: about
    /// ChunkElementsPerThread·GroupSize elements, at least one plane.</summary>
    internal int FusedPlanesPerChunk(in PoolShape shape) =>
        Math.Clamp(ChunkElementsPerThread * GroupSize / (shape.Height * shape.Width), 1, shape.Batch);

    /// <summary>Chunks per channel of the fused kernels for <paramref name="shape"/>.</summary>
    internal int FusedChunks(in PoolShape shape)
    {
        int planesPerChunk = FusedPlanesPerChunk(shape);
        return (shape.Batch + planesPerChunk - 1) / planesPerChunk;
    }

    /// <summary>The first 2·C·G floats of the partials buffer, grown (after the device has finished with the old one)
    /// when too small.</summary>
    private ArrayView<float> FusedPartials(int length)
    {
        if (_fusedPartials is null || _fusedPartials.Length < length)
        {
            Accelerator.Synchronize();
            _fusedPartials?.Dispose();
            _fusedPartials = Accelerator.Allocate1D<float>(length);
        }
        return _fusedPartials.View.SubView(0, length);
    }

    /// <summary>
    /// pooled [N,C,P,Q] = MaxPool(ReLU(BatchNorm(input [N,C,H,W]))) in training mode, with argmax (flat indices into
    /// input, as MaxPool2dForward over the ReLU output), mean, invStd and running statistics exactly as
    /// BatchNorm2dForwardTraining. The pool's shape describes input; BatchNorm's is (N, C, H·W). Two launches over
    /// C × chunks groups.
    /// </summary>
    public void BatchNormReLUMaxPoolForwardTraining(ArrayView<float> input, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> pooled, ArrayView<int> argmax, ArrayView<float> mean,
        ArrayView<float> invStd, ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps,
        in PoolShape shape)
    {
        ValidateFusedTraining(input, gamma, beta, pooled, argmax, mean, invStd, runningMean, runningVar, shape);
        int planesPerChunk = FusedPlanesPerChunk(shape), groups = shape.Channels * FusedChunks(shape);
        var config = new KernelConfig(groups, GroupSize);
        lock (_fusedPartialsLock)
        {
            var partials = FusedPartials(2 * groups);
            _bnReLUMaxPoolStatistics(Stream, config, input, partials, planesPerChunk, shape);
            _bnReLUMaxPoolForwardTraining(Stream, config, input, partials, gamma, beta, pooled, argmax,
                mean, invStd, runningMean, runningVar, momentum, eps, planesPerChunk, shape);
        }
    }

    /// <summary>
    /// convOutput = conv(input, weight) + bias (as <see cref="Conv2dForward"/>), then
    /// pooled = MaxPool(ReLU(BatchNorm(convOutput))) in training mode
    /// (as <see cref="BatchNormReLUMaxPoolForwardTraining"/>, pool window = stride = <paramref name="poolKernel"/>) in
    /// two launches instead of three: the staged convolution also writes each plane's statistics, which take the place
    /// of the fused block's first launch (chunks of one plane). Only for shapes the staged forward takes
    /// (<see cref="ForwardIsStaged"/>).
    /// </summary>
    public void Conv2dBatchNormReLUMaxPoolForwardTraining(ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> bias, ArrayView<float> convOutput, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> pooled, ArrayView<int> argmax, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps,
        in ConvShape conv, int poolKernel)
    {
        ValidateConv(conv);
        if (!ForwardIsStaged(conv))
            throw new ArgumentException(
                $"{conv} is too large for the staged convolution that computes BatchNorm's statistics; run " +
                    "Conv2dForward, then BatchNormReLUMaxPoolForwardTraining.",
                nameof(conv));
        SpanLength.Require(Checked(input.Length, nameof(input)), conv.InputLength, nameof(input), conv);
        SpanLength.Require(Checked(weight.Length, nameof(weight)), conv.WeightLength, nameof(weight), conv);
        SpanLength.RequireOrEmpty(Checked(bias.Length, nameof(bias)), conv.OutChannels, nameof(bias), conv);
        var shape = new PoolShape(conv.Batch, conv.OutChannels, conv.OutHeight, conv.OutWidth, poolKernel, poolKernel);
        ValidateFusedTraining(convOutput, gamma, beta, pooled, argmax, mean, invStd, runningMean, runningVar, shape);
        int groups = shape.Channels * shape.Batch; // one chunk per plane
        int threads = Math.Min(GroupSize, Math.Max(32, NextPowerOfTwo(shape.OutHeight * shape.OutWidth)));
        lock (_fusedPartialsLock)
        {
            var partials = FusedPartials(2 * groups);
            LaunchStagedForward(input, weight, bias, convOutput, partials, conv);
            _bnReLUMaxPoolForwardTraining(Stream, new KernelConfig(groups, threads), convOutput, partials, gamma, beta,
                pooled, argmax, mean, invStd, runningMean, runningVar, momentum, eps, 1, shape);
        }
    }

    /// <summary>The checks of a fused block's training forward over <paramref name="input"/> (the BatchNorm
    /// input).</summary>
    private static void ValidateFusedTraining(ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> pooled, ArrayView<int> argmax, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, in PoolShape shape)
    {
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        ValidateBatchNormTraining(normShape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(pooled.Length, nameof(pooled)), shape.OutputLength, nameof(pooled), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        RequireChannels(gamma, beta, mean, invStd, runningMean, runningVar, normShape);
    }

    /// <summary>pooled = MaxPool(ReLU(BatchNorm(input))) with running statistics (evaluation); one thread per pooled
    /// output, no argmax.</summary>
    public void BatchNormReLUMaxPoolForwardInference(ArrayView<float> input, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> runningMean, ArrayView<float> runningVar, float eps,
        ArrayView<float> pooled, in PoolShape shape)
    {
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(pooled.Length, nameof(pooled)), shape.OutputLength, nameof(pooled), shape);
        RequireChannels(gamma, beta, runningMean, runningVar, gamma, gamma, normShape);
        _bnReLUMaxPoolForwardInference(Stream, StrideConfig(shape.OutputLength), input, gamma, beta, runningMean,
            runningVar, eps, pooled, shape);
    }

    /// <summary>
    /// The backward of <see cref="BatchNormReLUMaxPoolForwardTraining"/>: from pooledGrad and argmax, the ReLU mask
    /// (normalised value &gt; 0) and the saved mean and invStd, accumulates inputGrad, gammaGrad and betaGrad exactly
    /// as MaxPool2dBackward → ReLUBackward → BatchNorm2dBackward would. Two launches over C × chunks groups. Without
    /// <paramref name="accumulateInput"/> inputGrad is overwritten, its old contents ignored.
    /// </summary>
    public void BatchNormReLUMaxPoolBackward(ArrayView<float> pooledGrad, ArrayView<int> argmax, ArrayView<float> input,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> inputGrad, ArrayView<float> gammaGrad, ArrayView<float> betaGrad, in PoolShape shape,
        bool accumulateInput = true)
    {
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        SpanLength.Require(Checked(pooledGrad.Length, nameof(pooledGrad)), shape.OutputLength,
            nameof(pooledGrad), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength, nameof(inputGrad), shape);
        RequireChannels(gamma, beta, mean, invStd, gammaGrad, betaGrad, normShape);
        int planesPerChunk = FusedPlanesPerChunk(shape), groups = shape.Channels * FusedChunks(shape);
        var config = new KernelConfig(groups, GroupSize);
        lock (_fusedPartialsLock)
        {
            var partials = FusedPartials(2 * groups);
            _bnReLUMaxPoolGradientSums(Stream, config, pooledGrad, argmax, input, gamma, beta, mean, invStd, partials,
                planesPerChunk, shape);
            _bnReLUMaxPoolBackward(Stream, config, pooledGrad, argmax, input, gamma, beta, mean, invStd, partials,
                inputGrad, gammaGrad, betaGrad, planesPerChunk, shape, accumulateInput ? 1 : 0);
        }
    }

    /// <summary>This group's channel c, chunk g of the channel's chunks, and the chunk's planes
    /// [firstPlane, firstPlane + planes).</summary>
    private static void FusedChunkOfGroup(int planesPerChunk, PoolShape shape, out int c, out int g, out int chunks,
        out int firstPlane, out int planes)
    {
        chunks = (shape.Batch + planesPerChunk - 1) / planesPerChunk;
        c = Grid.IdxX / chunks;
        g = Grid.IdxX - c * chunks;
        firstPlane = g * planesPerChunk;
        planes = IntMin(planesPerChunk, shape.Batch - firstPlane);
    }

    /// <summary>Launch A of the forward: partials[2·(c·G + g)] = Σ x over the chunk, [+1] = Σ (x − chunk mean)²
    /// (two passes, as Reference).</summary>
    private static void BatchNormReLUMaxPoolStatisticsKernel(ArrayView<float> input, ArrayView<float> partials,
        int planesPerChunk, PoolShape shape)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        FusedChunkOfGroup(planesPerChunk, shape, out int c, out int g, out int chunks, out int firstPlane,
            out int planes);
        int C = shape.Channels, S = shape.Height * shape.Width, count = planes * S;

        float sum = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int n = j / S;
            sum += input[((firstPlane + n) * C + c) * S + j - n * S];
        }
        float chunkSum = GroupReduction.Sum(scratch, sum), chunkMean = chunkSum / count;

        float squares = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int n = j / S;
            float d = input[((firstPlane + n) * C + c) * S + j - n * S] - chunkMean;
            squares += d * d;
        }
        squares = GroupReduction.SumToFirst(scratch, squares);
        if (Group.IdxX == 0)
        {
            int at = 2 * (c * chunks + g);
            partials[at] = chunkSum;
            partials[at + 1] = squares;
        }
    }

    /// <summary>Launch B of the forward: the channel's statistics from its partials, then the chunk's pooled
    /// outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BatchNormReLUMaxPoolForwardTrainingKernel(ArrayView<float> input, ArrayView<float> partials,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> pooled, ArrayView<int> argmax,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> runningMean, ArrayView<float> runningVar,
        float momentum, float eps, int planesPerChunk, PoolShape shape)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        FusedChunkOfGroup(planesPerChunk, shape, out int c, out int g, out int chunks, out int firstPlane,
            out int planes);
        int C = shape.Channels, S = shape.Height * shape.Width, count = shape.Batch * S;

        // Every group of channel c combines the same partials in the same order, so all get the same mu and inv bit for
        // bit.
        float sum = 0f;
        for (int k = Group.IdxX; k < chunks; k += Group.DimX)
            sum += partials[2 * (c * chunks + k)];
        float mu = GroupReduction.Sum(scratch, sum) / count;
        // Chan et al.: Σ over chunks of (Σ (x − chunk mean)² + chunk count · (chunk mean − mu)²).
        float squares = 0f;
        for (int k = Group.IdxX; k < chunks; k += Group.DimX)
        {
            int at = 2 * (c * chunks + k);
            float chunkCount = IntMin(planesPerChunk, shape.Batch - k * planesPerChunk) * S;
            float d = partials[at] / chunkCount - mu;
            squares += partials[at + 1] + chunkCount * d * d;
        }
        squares = GroupReduction.Sum(scratch, squares);
        float inv = 1f / MathF.Sqrt(squares / count + eps);
        if (g == 0 && Group.IdxX == 0)
        {
            mean[c] = mu;
            invStd[c] = inv;
            runningMean[c] = (1f - momentum) * runningMean[c] + momentum * mu;
            runningVar[c] = (1f - momentum) * runningVar[c] + momentum * (squares / (count - 1));
        }

        float scale = gamma[c] * inv, shift = beta[c];
        int P = shape.OutHeight, Q = shape.OutWidth, planeOutputs = P * Q, outputs = planes * planeOutputs;
        for (int j = Group.IdxX; j < outputs; j += Group.DimX)
        {
            int n = j / planeOutputs, pq = j - n * planeOutputs, p = pq / Q, q = pq - p * Q;
            int plane = (firstPlane + n) * C + c;
            PoolNormalised(input, scale, mu, shift, plane, p, q, shape, out float max, out int best);
            int o = plane * planeOutputs + pq;
            pooled[o] = max;
            argmax[o] = best;
        }
    }

    /// <summary>Max over window (p, q) of plane of ReLU(scale·(x − mu) + shift), first maximum on ties, as
    /// MaxPool2dForward over the ReLU output.</summary>
    private static void PoolNormalised(ArrayView<float> input, float scale, float mu, float shift, int plane, int p,
        int q, PoolShape shape, out float max, out int best)
    {
        int H = shape.Height, W = shape.Width;
        best = (plane * H + p * shape.Stride) * W + q * shape.Stride;
        max = ReLU(scale * (input[best] - mu) + shift);
        for (int r = 0; r < shape.Kernel; r++)
        for (int s = 0; s < shape.Kernel; s++)
        {
            int i = (plane * H + p * shape.Stride + r) * W + q * shape.Stride + s;
            float value = ReLU(scale * (input[i] - mu) + shift);
            if (value > max || float.IsNaN(value))
            {
                max = value;
                best = i;
            }
        }
    }

    private static void BatchNormReLUMaxPoolForwardInferenceKernel(ArrayView<float> input, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> runningMean, ArrayView<float> runningVar, float eps,
        ArrayView<float> pooled, PoolShape shape)
    {
        int P = shape.OutHeight, Q = shape.OutWidth, total = shape.OutputLength, stride = Grid.DimX * Group.DimX;
        for (int o = Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += stride)
        {
            int q = o % Q, p = o / Q % P, plane = o / (P * Q), c = plane % shape.Channels;
            float inv = 1f / MathF.Sqrt(runningVar[c] + eps);
            PoolNormalised(input, gamma[c] * inv, runningMean[c], beta[c], plane, p, q, shape,
                out float max, out int _);
            pooled[o] = max;
        }
    }

    /// <summary>
    /// Launch A of the backward: partials[2·(c·G + g)] = Σ dy over the chunk, [+1] = Σ dy·x̂. dy is non-zero only where
    /// a window chose the element and the ReLU passed it, so the sums run over the chunk's pooled outputs o:
    /// pooledGrad[o] where the element argmax[o] passed the ReLU (two dependent loads per output, four times fewer
    /// outputs than elements).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BatchNormReLUMaxPoolGradientSumsKernel(ArrayView<float> pooledGrad, ArrayView<int> argmax,
        ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean,
        ArrayView<float> invStd, ArrayView<float> partials, int planesPerChunk, PoolShape shape)
    {
        var scratchDy = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        var scratchDyXhat = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        FusedChunkOfGroup(planesPerChunk, shape, out int c, out int g, out int chunks, out int firstPlane,
            out int planes);
        int C = shape.Channels, outputs = shape.OutHeight * shape.OutWidth, count = planes * outputs;
        float mu = mean[c], inv = invStd[c], scale = gamma[c] * inv, shift = beta[c];

        float sumDy = 0f, sumDyXhat = 0f;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            int n = j / outputs, o = ((firstPlane + n) * C + c) * outputs + j - n * outputs;
            float dy = pooledGrad[o];
            float x = input[argmax[o]];
            // The forward's mask expression, so the choice agrees with it bit for bit.
            if (scale * (x - mu) + shift > 0f)
            {
                sumDy += dy;
                sumDyXhat += dy * ((x - mu) * inv);
            }
        }
        var (chunkDy, chunkDyXhat) = GroupReduction.Sum2(scratchDy, scratchDyXhat, sumDy, sumDyXhat);
        if (Group.IdxX == 0)
        {
            int at = 2 * (c * chunks + g);
            partials[at] = chunkDy;
            partials[at + 1] = chunkDyXhat;
        }
    }

    /// <summary>Launch B of the backward: the channel's Σ dy and Σ dy·x̂ from its partials, then inputGrad over the
    /// chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BatchNormReLUMaxPoolBackwardKernel(ArrayView<float> pooledGrad, ArrayView<int> argmax,
        ArrayView<float> input, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean,
        ArrayView<float> invStd, ArrayView<float> partials, ArrayView<float> inputGrad, ArrayView<float> gammaGrad,
        ArrayView<float> betaGrad, int planesPerChunk, PoolShape shape, int accumulateInput)
    {
        var scratchDy = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        var scratchDyXhat = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        FusedChunkOfGroup(planesPerChunk, shape, out int c, out int g, out int chunks, out int firstPlane,
            out int planes);
        int C = shape.Channels, S = shape.Height * shape.Width, count = shape.Batch * S;
        float mu = mean[c], inv = invStd[c], scale = gamma[c] * inv, shift = beta[c];

        float sumDy = 0f, sumDyXhat = 0f;
        for (int k = Group.IdxX; k < chunks; k += Group.DimX)
        {
            int at = 2 * (c * chunks + k);
            sumDy += partials[at];
            sumDyXhat += partials[at + 1];
        }
        var (totalDy, totalDyXhat) = GroupReduction.Sum2(scratchDy, scratchDyXhat, sumDy, sumDyXhat);
        float meanDy = totalDy / count, meanDyXhat = totalDyXhat / count;

        if (PoolTilesPlane(shape))
        {
            // One thread per pooled output: its window's elements, the window's gradient and choice all loaded at once.
            int P = shape.OutHeight, Q = shape.OutWidth, K = shape.Kernel, H = shape.Height, W = shape.Width,
                outputs = P * Q;
            int pooledCount = planes * outputs;
            for (int j = Group.IdxX; j < pooledCount; j += Group.DimX)
            {
                int n = j / outputs, pq = j - n * outputs, p = pq / Q, q = pq - p * Q, plane = (firstPlane + n) * C + c;
                int o = plane * outputs + pq, chosen = argmax[o];
                float windowGrad = pooledGrad[o];
                for (int r = 0; r < K; r++)
                for (int t = 0; t < K; t++)
                {
                    int i = (plane * H + p * K + r) * W + q * K + t;
                    float x = input[i];
                    float dy = i == chosen && scale * (x - mu) + shift > 0f ? windowGrad : 0f;
                    Put(inputGrad, i, scale * (dy - meanDy - (x - mu) * inv * meanDyXhat), accumulateInput);
                }
            }
        }
        else
        {
            int chunkCount = planes * S;
            for (int j = Group.IdxX; j < chunkCount; j += Group.DimX)
            {
                int n = j / S, s = j - n * S, plane = (firstPlane + n) * C + c, i = plane * S + s;
                float x = input[i];
                float dy = NormalisedGradientAt(pooledGrad, argmax, i, plane, s, scale, mu, shift, x, shape);
                Put(inputGrad, i, scale * (dy - meanDy - (x - mu) * inv * meanDyXhat), accumulateInput);
            }
        }
        if (g == 0 && Group.IdxX == 0)
        {
            gammaGrad[c] += totalDyXhat;
            betaGrad[c] += totalDy;
        }
    }

    /// <summary>
    /// Whether the pooling windows tile each plane exactly (window = stride, the plane a whole number of windows), so
    /// that every element lies in exactly one window: the backward then visits the elements window by window.
    /// </summary>
    private static bool PoolTilesPlane(PoolShape shape) =>
        shape.Kernel == shape.Stride && shape.OutHeight * shape.Stride == shape.Height
        && shape.OutWidth * shape.Stride == shape.Width;

    /// <summary>
    /// ∂L/∂(BatchNorm output) at element i (offset s in its plane): where the normalised value passed the
    /// ReLU, Σ pooledGrad[o] over the windows o that contain i and chose it as their maximum, as MaxPool2dBackward
    /// gathers it.
    /// </summary>
    private static float NormalisedGradientAt(ArrayView<float> pooledGrad, ArrayView<int> argmax, int i, int plane,
        int s, float scale, float mu, float shift, float x, PoolShape shape)
    {
        // Same expression as the forward's, so the mask agrees with the forward's choice bit for bit.
        if (!(scale * (x - mu) + shift > 0f))
            return 0f;
        int W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth, K = shape.Kernel, stride = shape.Stride;
        int h = s / W, w = s - h * W;
        // Windows p with p·stride ≤ h < p·stride + kernel.
        int pFirst = h < K ? 0 : (h - K) / stride + 1, pLast = IntMin(h / stride, P - 1);
        int qFirst = w < K ? 0 : (w - K) / stride + 1, qLast = IntMin(w / stride, Q - 1);
        float sum = 0f;
        for (int p = pFirst; p <= pLast; p++)
        for (int q = qFirst; q <= qLast; q++)
        {
            int o = (plane * P + p) * Q + q;
            if (argmax[o] == i)
                sum += pooledGrad[o];
        }
        return sum;
    }

    private static float ReLU(float value) => value > 0f || float.IsNaN(value) ? value : 0f;
}
