using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Conv2d, NCHW, direct. Forward: where an image (C×H×W) and a filter (C×R×S) fit the shared arrays (LeNet's always do),
// one group per (image, output channel) — or per two output channels, each image value then read once for both — stages
// them in shared memory and each thread computes outputs of the plane(s) from there; otherwise one thread per output
// reads global memory. Both add in the same order (bias, then c, r, s), so they
// agree bit for bit. Backward in two launches, without atomics (so results are deterministic): the first writes partial
// sums of the weight and bias gradients over chunks — a chunk is a band of output rows of one image — and computes the
// input gradient, each input element gathering from the outputs it touched; the second gives each weight and bias a
// small group that adds its partials over the chunks (stored side by side, [item][chunk]) as a tree of fixed shape.
// The partials come from shared memory where an image and an output plane fit (one group per image and output channel,
// or per two where they pair up, its threads taking (band, weight) items), else from global memory (one thread per
// (chunk, weight), a chunk about ChunkWork multiply-adds); the input gradient from shared memory where an image's
// output gradient fits (one group per input plane, or per two planes where the channels pair up, each output-gradient
// value then read once for both), else one thread per input. The training step's convolutions are compiled per shape
// (GpuOptions.SpecializeShapes).
public sealed partial class CudaKernels
{
    /// <summary>
    /// The backward's first launch: [0, WeightItems) weight partials, then BiasItems bias partials, then InputItems
    /// inputs; each image's output rows are cut into Chunks bands of RowsPerChunk rows. AccumulateInput 0: inputGrad is
    /// overwritten, its old contents ignored. With StagedInput &gt; 0 or StagedWeights &gt; 0 the launch is split: its
    /// first groups compute the input gradient (StagedInput (image, input channel) planes each from shared memory when
    /// StagedInput is 1 or 2, else one input per thread), the last ItemGroups the partials. StagedWeights 1 or 2: one
    /// partial group per image and StagedWeights output channels, which stages the image and the planes' output
    /// gradient in shared memory and computes the filters' weight and bias partials over Chunks / Batch bands of rows;
    /// otherwise one partial per thread.
    /// </summary>
    internal readonly record struct ConvBackwardPlan(int WeightItems, int BiasItems, int InputItems, int Chunks,
        int RowsPerChunk, int AccumulateInput, int StagedInput, int ItemGroups, int StagedWeights);

    /// <summary>
    /// Whether the backward computes <paramref name="shape"/>'s input gradient from shared memory: one image's output
    /// gradient (K·P·Q) and one input channel's filters (K·R·S) fit the staged arrays (LeNet's conv2 does).
    /// </summary>
    internal static bool InputGradientIsStaged(in ConvShape shape) =>
        (long)shape.OutChannels * shape.OutHeight * shape.OutWidth <= StagedImageCapacity
        && (long)shape.OutChannels * shape.KernelHeight * shape.KernelWidth <= StagedFilterCapacity;

    /// <summary>
    /// Input channels per group of the staged input gradient: two where the channels pair up and both channels' filters
    /// fit (LeNet's conv2: 6 channels, 2 × 400 floats) — each output-gradient value read from shared memory then serves
    /// two multiply-adds —, else one.
    /// </summary>
    internal static int InputChannelsPerGroup(in ConvShape shape) =>
        shape.InChannels % 2 == 0
        && 2L * shape.OutChannels * shape.KernelHeight * shape.KernelWidth <= StagedFilterCapacity ? 2 : 1;

    /// <summary>
    /// Whether the backward computes <paramref name="shape"/>'s weight and bias partials from shared memory: one image
    /// (C·H·W) and one output-gradient plane (P·Q) fit the staged arrays (both of LeNet's convolutions do).
    /// </summary>
    internal static bool WeightGradientIsStaged(in ConvShape shape) => StagedWeightsFit(shape, 1);

    /// <summary>
    /// Whether one image and <paramref name="channels"/> output-gradient planes fit the two staged arrays, the larger
    /// of the two in the larger array (<see cref="StagedWeightsSwap"/>).
    /// </summary>
    private static bool StagedWeightsFit(in ConvShape shape, int channels)
    {
        long image = (long)shape.InChannels * shape.Height * shape.Width,
            planes = (long)channels * shape.OutHeight * shape.OutWidth;
        return (image <= StagedImageCapacity && planes <= StagedFilterCapacity)
            || (image <= StagedFilterCapacity && planes <= StagedImageCapacity);
    }

    /// <summary>
    /// Whether the staged weight partials keep the image in the small array and the output-gradient planes in the large
    /// one: where the planes do not fit the small one but the image does (LeNet's conv1 paired: 2 × 784 floats of
    /// planes, a 1,024-float image).
    /// </summary>
    private static bool StagedWeightsSwap(int imageLength, int planesLength) =>
        planesLength > StagedFilterCapacity && imageLength <= StagedFilterCapacity;

    /// <summary>
    /// Output channels per group of the staged weight and bias partials: two where the channels pair up and the image
    /// and both planes' output gradients fit (LeNet's conv2: 2 × 100 floats; conv1: 2 × 784, with the image in the
    /// small array) — each image value read from shared memory then serves two multiply-adds —, else one.
    /// </summary>
    internal static int WeightChannelsPerGroup(in ConvShape shape) =>
        shape.OutChannels % 2 == 0 && StagedWeightsFit(shape, 2) ? 2 : 1;

    /// <summary>About how many output positions one thread sums for a weight's partial (a band of whole
    /// rows).</summary>
    private const int ChunkWork = 128;

    /// <summary>
    /// Threads per group of the backward's sum over <paramref name="chunks"/> partials: about one per two partials,
    /// 64 to GroupSize (a GPU's conv1, 576 partials per weight: 256 threads; conv2, 64 partials: 64).
    /// </summary>
    private int ConvSumGroupSize(int chunks) => Math.Min(GroupSize, Math.Max(64, NextPowerOfTwo(chunks) / 2));

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ConvShape, ConvBackwardPlan> _conv2dBackward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape,
        ConvBackwardPlan> _conv2dBackwardSum = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ConvShape, int> _conv2dForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ConvShape, int, int, int> _conv2dForwardStaged = null!;

    /// <summary>Floats of one image (C·H·W) and of one filter (C·R·S) the staged forward can hold in shared memory
    /// (8 KB and 4 KB).</summary>
    internal const int StagedImageCapacity = 2048, StagedFilterCapacity = 1024;

    /// <summary>Whether <see cref="Conv2dForward"/> stages <paramref name="shape"/>'s images and filters in shared
    /// memory.</summary>
    public static bool ForwardIsStaged(in ConvShape shape) =>
        (long)shape.InChannels * shape.Height * shape.Width <= StagedImageCapacity
        && (long)shape.InChannels * shape.KernelHeight * shape.KernelWidth <= StagedFilterCapacity;

    // Per-image partial sums of the weight and bias gradients, grown when a larger shape arrives. A replaced buffer is
    // kept (not freed) because launches queued before may still read it.
    private MemoryBuffer1D<float, Stride1D.Dense>? _convPartials;
    private readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _retiredPartials = [];

    private void LoadConv2d()
    {
        _conv2dForward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int>(
            Conv2dForwardKernel);
        if (Options.SpecializeShapes)
        {
            // Compiled once per shape (ILGPU's SpecializedValue): the sizes become constants, so the loops over kernel
            // taps and channels have known trip counts and the index arithmetic folds.
            var staged = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                SpecializedValue<ConvShape>, int, int, SpecializedValue<int>>(Conv2dForwardStagedSpecializedKernel);
            _conv2dForwardStaged = (stream, config, input, weight, bias, output, statistics, shape, hasBias,
                withStatistics, channels) =>
                staged(stream, config, input, weight, bias, output, statistics, SpecializedValue.New(shape), hasBias,
                    withStatistics, SpecializedValue.New(channels));
            var backward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, SpecializedValue<ConvShape>,
                SpecializedValue<ConvBackwardPlan>>(Conv2dBackwardSpecializedKernel);
            _conv2dBackward = (stream, config, input, weight, outputGrad, inputGrad, partials, shape, plan) =>
                backward(stream, config, input, weight, outputGrad, inputGrad, partials, SpecializedValue.New(shape),
                    SpecializedValue.New(plan));
        }
        else
        {
            _conv2dForwardStaged = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ConvShape, int, int, int>(Conv2dForwardStagedKernel);
            _conv2dBackward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ConvShape, ConvBackwardPlan>(Conv2dBackwardKernel);
        }
        _conv2dBackwardSum = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, ConvBackwardPlan>(
            Conv2dBackwardSumKernel);
    }

    private ArrayView<float> ConvPartials(long length)
    {
        if (_convPartials is null || _convPartials.Length < length)
        {
            if (_convPartials is not null) _retiredPartials.Add(_convPartials);
            _convPartials = Accelerator.Allocate1D<float>(Math.Max(length, 1));
        }
        return _convPartials.View;
    }

    /// <summary>output [N,K,P,Q] = conv(input [N,C,H,W], weight [K,C,R,S]) + bias [K] (bias fused; an empty bias means
    /// none). Overwrites output.</summary>
    public void Conv2dForward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> output, in ConvShape shape)
    {
        ValidateConv(shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(weight.Length, nameof(weight)), shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(Checked(bias.Length, nameof(bias)), shape.OutChannels, nameof(bias), shape);
        SpanLength.Require(Checked(output.Length, nameof(output)), shape.OutputLength, nameof(output), shape);
        if (ForwardIsStaged(shape))
            LaunchStagedForward(input, weight, bias, output, default, shape);
        else
            _conv2dForward(Stream, StrideConfig(shape.OutputLength), input, weight, OrPlaceholder(bias, weight), output,
                shape, bias.Length > 0 ? 1 : 0);
    }

    /// <summary>
    /// Output channels per group of the staged forward: two where the channels pair up and both filters fit (LeNet's
    /// conv1 and conv2) — each image value read from shared memory then serves two multiply-adds —, else one.
    /// </summary>
    internal static int ForwardChannelsPerGroup(in ConvShape shape) =>
        shape.OutChannels % 2 == 0
        && 2L * shape.InChannels * shape.KernelHeight * shape.KernelWidth <= StagedFilterCapacity ? 2 : 1;

    /// <summary>
    /// The staged forward, one group per (image, output channel), or per two output channels
    /// (<see cref="ForwardChannelsPerGroup"/>); with a non-empty <paramref name="statistics"/>, each group also writes
    /// its planes' (Σ y, Σ (y − plane mean)²) to statistics[2·(k·N + n) ..]: the fused BatchNorm's partials for chunks
    /// of one plane.
    /// </summary>
    private void LaunchStagedForward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> output, ArrayView<float> statistics, in ConvShape shape)
    {
        // Threads per group: the plane's outputs rounded up to a power of two (the statistics' tree needs one), 32 to
        // GroupSize.
        int threads = Math.Min(GroupSize, Math.Max(32, NextPowerOfTwo(shape.OutHeight * shape.OutWidth)));
        int channels = ForwardChannelsPerGroup(shape);
        _conv2dForwardStaged(Stream, new KernelConfig(Checked((long)shape.Batch * shape.OutChannels / channels,
            "the forward's groups"), threads), input, weight, OrPlaceholder(bias, weight), output,
            OrPlaceholder(statistics, output), shape, bias.Length > 0 ? 1 : 0, statistics.Length > 0 ? 1 : 0, channels);
    }

    /// <summary>inputGrad [N,C,H,W] += ∂L/∂input given outputGrad [N,K,P,Q] and weight.</summary>
    public void Conv2dBackwardInput(ArrayView<float> outputGrad, ArrayView<float> weight, ArrayView<float> inputGrad,
        in ConvShape shape) =>
        Conv2dBackward(default, weight, outputGrad, inputGrad, default, default, shape);

    /// <summary>weightGrad [K,C,R,S] += ∂L/∂weight given input and outputGrad.</summary>
    public void Conv2dBackwardWeight(ArrayView<float> input, ArrayView<float> outputGrad, ArrayView<float> weightGrad,
        in ConvShape shape) =>
        Conv2dBackward(input, default, outputGrad, default, weightGrad, default, shape);

    /// <summary>biasGrad [K] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public void Conv2dBackwardBias(ArrayView<float> outputGrad, ArrayView<float> biasGrad, in ConvShape shape) =>
        Conv2dBackward(default, default, outputGrad, default, default, biasGrad, shape);

    /// <summary>
    /// All three gradients of a convolution in two launches (one when only inputGrad is wanted); each of inputGrad,
    /// weightGrad, biasGrad may be empty to skip it (then input or weight, needed only by the other, may be empty too).
    /// Accumulates into each.
    /// </summary>
    public void Conv2dBackward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, ArrayView<float> weightGrad, ArrayView<float> biasGrad, in ConvShape shape,
        bool accumulateInput = true)
    {
        ValidateConv(shape);
        SpanLength.Require(Checked(outputGrad.Length, nameof(outputGrad)), shape.OutputLength,
            nameof(outputGrad), shape);
        SpanLength.RequireOrEmpty(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength,
            nameof(inputGrad), shape);
        SpanLength.RequireOrEmpty(Checked(weightGrad.Length, nameof(weightGrad)), shape.WeightLength,
            nameof(weightGrad), shape);
        SpanLength.RequireOrEmpty(Checked(biasGrad.Length, nameof(biasGrad)), shape.OutChannels,
            nameof(biasGrad), shape);
        if (inputGrad.Length > 0)
            SpanLength.Require(Checked(weight.Length, nameof(weight)), shape.WeightLength, nameof(weight), shape);
        if (weightGrad.Length > 0)
            SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);

        bool stagedWeights = (weightGrad.Length > 0 || biasGrad.Length > 0) && WeightGradientIsStaged(shape);
        int rowsPerChunk, chunks;
        if (stagedWeights)
        {
            // Each (image, output channel) group gives its threads the filter's C·R·S weights and the bias, times bands
            // of rows.
            int filterItems = (weightGrad.Length > 0 ? shape.InChannels * shape.KernelHeight * shape.KernelWidth : 0) +
                (biasGrad.Length > 0 ? 1 : 0);
            int bands = Math.Clamp(GroupSize / filterItems, 1, shape.OutHeight);
            (rowsPerChunk, chunks) = (0, shape.Batch * bands);
        }
        else
        {
            rowsPerChunk = Math.Clamp(ChunkWork / shape.OutWidth, 1, shape.OutHeight);
            chunks = shape.Batch * ((shape.OutHeight + rowsPerChunk - 1) / rowsPerChunk);
        }
        int weightItems = weightGrad.Length > 0 ? Checked((long)chunks * shape.WeightLength, "the weight partials") : 0;
        int biasItems = biasGrad.Length > 0 ? chunks * shape.OutChannels : 0;
        int inputItems = inputGrad.Length > 0 ? shape.InputLength : 0;
        if (weightItems + biasItems + inputItems == 0)
            return;
        Checked((long)weightItems + biasItems + inputItems, "the backward's work items");

        bool staged = inputItems > 0 && InputGradientIsStaged(shape);
        int weightChannels = stagedWeights ? WeightChannelsPerGroup(shape) : 0;
        int itemGroups = stagedWeights ? shape.Batch * shape.OutChannels / weightChannels
            : (weightItems + biasItems + GroupSize - 1) / GroupSize;
        int channelsPerGroup = staged ? InputChannelsPerGroup(shape) : 0;
        long inputGroups = inputItems == 0 ? 0 : staged ? (long)shape.Batch * shape.InChannels / channelsPerGroup
            : Math.Min((inputItems + GroupSize - 1) / GroupSize, MaxStrideGroups);
        var config = staged || stagedWeights
            ? new KernelConfig(Checked(itemGroups + inputGroups, "the backward's groups"), GroupSize)
            : StrideConfig(weightItems + biasItems + inputItems);
        var plan = new ConvBackwardPlan(weightItems, biasItems, inputItems, chunks, rowsPerChunk,
            accumulateInput ? 1 : 0, channelsPerGroup, itemGroups, weightChannels);
        var placeholder = outputGrad;
        var partials = weightItems + biasItems > 0 ? ConvPartials(weightItems + biasItems) : placeholder;
        _conv2dBackward(Stream, config,
            OrPlaceholder(input, placeholder), OrPlaceholder(weight, placeholder), outputGrad,
            OrPlaceholder(inputGrad, placeholder), partials, shape, plan);
        if (weightItems + biasItems > 0)
            _conv2dBackwardSum(Stream, new KernelConfig((weightItems + biasItems) / chunks, ConvSumGroupSize(chunks)),
                partials, OrPlaceholder(weightGrad, placeholder), OrPlaceholder(biasGrad, placeholder), shape, plan);
    }

    private static void Conv2dForwardKernel(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> output, ConvShape shape, int hasBias)
    {
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth;
        int total = shape.OutputLength, stride = Grid.DimX * Group.DimX;
        for (int o = Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += stride)
        {
            int q = o % Q, p = o / Q % P, k = o / (P * Q) % K, n = o / (P * Q * K);
            float sum = hasBias != 0 ? bias[k] : 0f;
            for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++)
            {
                int h = p * shape.Stride + r - shape.Padding;
                if (h < 0 || h >= H) continue;
                int inputRow = ((n * C + c) * H + h) * W, weightRow = ((k * C + c) * R + r) * S;
                for (int s = 0; s < S; s++)
                {
                    int w = q * shape.Stride + s - shape.Padding;
                    if (w < 0 || w >= W) continue;
                    sum += input[inputRow + w] * weight[weightRow + s];
                }
            }
            output[o] = sum;
        }
    }

    /// <summary>
    /// <see cref="Conv2dForwardStagedKernel"/> compiled for one shape (<see cref="GpuOptions.SpecializeShapes"/>).
    /// </summary>
    private static void Conv2dForwardStagedSpecializedKernel(ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> bias, ArrayView<float> output, ArrayView<float> statistics, SpecializedValue<ConvShape> shape,
        int hasBias, int withStatistics, SpecializedValue<int> channels) =>
        Conv2dForwardStagedKernel(input, weight, bias, output, statistics, shape.Value, hasBias, withStatistics,
            channels.Value);

    /// <summary>
    /// <see cref="Conv2dBackwardKernel"/> compiled for one shape and plan (<see cref="GpuOptions.SpecializeShapes"/>).
    /// </summary>
    private static void Conv2dBackwardSpecializedKernel(ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> outputGrad, ArrayView<float> inputGrad, ArrayView<float> partials,
        SpecializedValue<ConvShape> shape, SpecializedValue<ConvBackwardPlan> plan) =>
        Conv2dBackwardKernel(input, weight, outputGrad, inputGrad, partials, shape.Value, plan.Value);

    /// <summary>
    /// One group per (image n, output channels k0 .. k0 + channels − 1, channels 1 or 2): the image and the channels'
    /// filters into shared memory, then the planes' outputs, each image value read once for both channels and each sum
    /// added in the same order (bias, then c, r, s); with <paramref name="withStatistics"/>, each plane's sum and sum
    /// of squared deviations from its mean (two passes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Conv2dForwardStagedKernel(ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> bias, ArrayView<float> output, ArrayView<float> statistics, ConvShape shape, int hasBias,
        int withStatistics, int channels)
    {
        var image = SharedMemory.Allocate<float>(StagedImageCapacity);
        var filter = SharedMemory.Allocate<float>(StagedFilterCapacity);
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        var scratchOther = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth;
        int groupsPerImage = K / channels, n = Grid.IdxX / groupsPerImage,
            k = (Grid.IdxX - n * groupsPerImage) * channels;
        int imageLength = C * H * W, filterLength = C * R * S;
        bool pair = channels == 2;
        Stage(input, n * imageLength, imageLength, image);
        Stage(weight, k * filterLength,
            channels * filterLength, filter); // channels k and k + 1: consecutive in [K, C, R, S]
        Group.Barrier();

        float first = hasBias != 0 ? bias[k] : 0f, firstOther = pair && hasBias != 0 ? bias[k + 1] : 0f, planeSum = 0f,
            planeSumOther = 0f;
        int plane = P * Q, outputBase = (n * K + k) * plane;
        for (int o = Group.IdxX; o < plane; o += Group.DimX)
        {
            // The window's top-left corner (h0, w0) and the kernel rows and columns inside the image, found once per
            // output: the inner loop is then shared loads and multiply-adds (the skipped terms were never added).
            int p = o / Q, q = o - p * Q, h0 = p * shape.Stride - shape.Padding, w0 = q * shape.Stride - shape.Padding;
            int rFirst = IntMax(0, -h0), rEnd = IntMin(R, H - h0), sFirst = IntMax(0, -w0), sEnd = IntMin(S, W - w0);
            float sum = first, sumOther = firstOther;
            for (int c = 0; c < C; c++)
            for (int r = rFirst; r < rEnd; r++)
            {
                int inputRow = (c * H + h0 + r) * W + w0, weightRow = (c * R + r) * S;
                for (int s = sFirst; s < sEnd; s++)
                {
                    float x = image[inputRow + s];
                    sum += x * filter[weightRow + s];
                    if (pair)
                        sumOther += x * filter[filterLength + weightRow + s];
                }
            }
            output[outputBase + o] = sum;
            planeSum += sum;
            if (pair)
            {
                output[outputBase + plane + o] = sumOther;
                planeSumOther += sumOther;
            }
        }
        if (withStatistics == 0)
            return;

        // The same sums as the fused BatchNorm's statistics launch (BatchNormReLUMaxPoolStatisticsKernel) over a chunk
        // of one plane; each thread re-reads only the outputs it wrote. Two planes share the reductions' barriers
        // (Sum2 adds each as Sum would).
        var (total, totalOther) = GroupReduction.Sum2(scratch, scratchOther, planeSum, planeSumOther);
        float planeMean = total / plane, planeMeanOther = totalOther / plane, squares = 0f, squaresOther = 0f;
        for (int o = Group.IdxX; o < plane; o += Group.DimX)
        {
            float d = output[outputBase + o] - planeMean;
            squares += d * d;
            if (pair)
            {
                float e = output[outputBase + plane + o] - planeMeanOther;
                squaresOther += e * e;
            }
        }
        (squares, squaresOther) = GroupReduction.Sum2(scratch, scratchOther, squares, squaresOther);
        if (Group.IdxX == 0)
        {
            int at = 2 * (k * shape.Batch + n);
            statistics[at] = total;
            statistics[at + 1] = squares;
            if (pair)
            {
                at = 2 * ((k + 1) * shape.Batch + n);
                statistics[at] = totalOther;
                statistics[at + 1] = squaresOther;
            }
        }
    }

    /// <summary>target[0..length) = source[offset..offset + length), by the whole group, four loads in flight per
    /// thread.</summary>
    private static void Stage(ArrayView<float> source, int offset, int length, ArrayView<float> target)
    {
        int threads = Group.DimX;
        for (int j = Group.IdxX; j < length; j += 4 * threads)
        {
            int j1 = j + threads, j2 = j1 + threads, j3 = j2 + threads;
            float v0 = source[offset + j];
            float v1 = j1 < length ? source[offset + j1] : 0f;
            float v2 = j2 < length ? source[offset + j2] : 0f;
            float v3 = j3 < length ? source[offset + j3] : 0f;
            target[j] = v0;
            if (j1 < length) target[j1] = v1;
            if (j2 < length) target[j2] = v2;
            if (j3 < length) target[j3] = v3;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Conv2dBackwardKernel(ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> outputGrad, ArrayView<float> inputGrad, ArrayView<float> partials, ConvShape shape,
        ConvBackwardPlan plan)
    {
        var stagedLarge = SharedMemory.Allocate<float>(StagedImageCapacity);
        var stagedSmall = SharedMemory.Allocate<float>(StagedFilterCapacity);
        // Split: the input gradient's groups come first, so that the GPU starts its longest groups (an input plane adds
        // K·R·S products per element) in the first wave and the short partial groups fill in after them.
        bool split = plan.StagedInput != 0 || plan.StagedWeights != 0;
        int inputGroups = split ? Grid.DimX - plan.ItemGroups : 0, itemGroup = Grid.IdxX - inputGroups;
        if (itemGroup < 0)
        {
            if (plan.StagedInput != 0)
            {
                // StagedInput is never 0 here; IntMax keeps a specialized kernel's constant folding from dividing by
                // 0 in the path not taken.
                StagedInputGradient(weight, outputGrad, inputGrad, stagedLarge, stagedSmall, shape, plan, Grid.IdxX,
                    IntMax(1, plan.StagedInput));
            }
            else
                DirectInputGradient(weight, outputGrad, inputGrad, shape, plan, Grid.IdxX * Group.DimX + Group.IdxX,
                    inputGroups * Group.DimX);
            return;
        }
        if (plan.StagedWeights != 0)
        {
            StagedWeightPartials(input, outputGrad, partials, stagedLarge, stagedSmall, shape, plan, itemGroup,
                IntMax(1, plan.StagedWeights));
            return;
        }
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth;
        int plane = P * Q, weightLength = K * C * R * S, bands = plan.Chunks / shape.Batch;
        // Split: the items are the partials alone, one per thread of the last ItemGroups groups.
        int total = plan.WeightItems + plan.BiasItems + (split ? 0 : plan.InputItems);
        int stride = (split ? plan.ItemGroups : Grid.DimX) * Group.DimX;
        for (int item = itemGroup * Group.DimX + Group.IdxX; item < total; item += stride)
        {
            if (item < plan.WeightItems)
            {
                // partials[chunk, weight] = Σ_{p in the chunk's rows, q} outputGrad[n,k,p,q]·input[n,c,h,w]
                int chunk = item / weightLength, e = item % weightLength, n = chunk / bands;
                int s = e % S, r = e / S % R, c = e / (R * S) % C, k = e / (R * S * C);
                int gradBase = (n * K + k) * plane, inputBase = (n * C + c) * H * W;
                int firstRow = chunk % bands * plan.RowsPerChunk, endRow = Math.Min(P, firstRow + plan.RowsPerChunk);
                float sum = 0f;
                for (int p = firstRow; p < endRow; p++)
                {
                    int h = p * shape.Stride + r - shape.Padding;
                    if (h < 0 || h >= H) continue;
                    for (int q = 0; q < Q; q++)
                    {
                        int w = q * shape.Stride + s - shape.Padding;
                        if (w >= 0 && w < W)
                            sum += outputGrad[gradBase + p * Q + q] * input[inputBase + h * W + w];
                    }
                }
                partials[e * plan.Chunks + chunk] = sum;
            }
            else if (item < plan.WeightItems + plan.BiasItems)
            {
                // partials[after the weights][chunk, k] = Σ_{p in the chunk's rows, q} outputGrad[n,k,p,q]
                int b = item - plan.WeightItems, chunk = b / K, k = b % K, n = chunk / bands;
                int firstRow = chunk % bands * plan.RowsPerChunk, endRow = Math.Min(P, firstRow + plan.RowsPerChunk);
                int gradBase = (n * K + k) * plane;
                float sum = 0f;
                for (int j = firstRow * Q; j < endRow * Q; j++)
                    sum += outputGrad[gradBase + j];
                partials[plan.WeightItems + k * plan.Chunks + chunk] = sum;
            }
            else
                DirectInputGradient(weight, outputGrad, inputGrad, shape, plan,
                    item - plan.WeightItems - plan.BiasItems, plan.InputItems);
        }
    }

    /// <summary>inputGrad at input i from global memory, then every stride-th input after it; one input when
    /// stride ≥ InputItems.</summary>
    private static void DirectInputGradient(ArrayView<float> weight, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, ConvShape shape, ConvBackwardPlan plan, int i, int stride)
    {
        int C = shape.InChannels, H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth;
        int outputsPerImage = shape.OutChannels * shape.OutHeight * shape.OutWidth;
        for (; i < plan.InputItems; i += stride)
        {
            int w = i % W, h = i / W % H, c = i / (H * W) % C, n = i / (H * W * C);
            Put(inputGrad, i, InputGradientAt(outputGrad, n * outputsPerImage, weight, c * R * S, C * R * S, h, w,
                shape), plan.AccumulateInput);
        }
    }

    /// <summary>
    /// The weight and bias partials of image n and output channels k .. k + channels − 1 (channels 1 or 2), partial
    /// group n·K / channels + k / channels: the image (C·H·W) and the planes' output gradient (P·Q each) are staged in
    /// shared memory, then each thread takes items (band j, e): e &lt; C·R·S is the weight (c, r, s), the last e the
    /// bias, over band j of the plane's rows (row ⌊j·P/bands⌋ up to the next band's), for each of the channels — each
    /// image value read once for both, each sum added in the one-channel order. For a weight, the output columns q
    /// whose input column lies inside the image are found once per item; the inner loop is then shared loads and
    /// multiply-adds. Partials land where the direct path puts them: [item][chunk], chunk = n·bands + j.
    /// </summary>
    private static void StagedWeightPartials(ArrayView<float> input, ArrayView<float> outputGrad,
        ArrayView<float> partials, ArrayView<float> image, ArrayView<float> gradPlane, ConvShape shape,
        ConvBackwardPlan plan, int group, int channels)
    {
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth,
            stride = shape.Stride;
        int groupsPerImage = K / channels, n = group / groupsPerImage, k = (group - n * groupsPerImage) * channels;
        int filterLength = C * R * S, plane = P * Q, imageLength = C * H * W;
        bool pair = channels == 2;
        if (StagedWeightsSwap(imageLength, channels * plane))
            (image, gradPlane) = (gradPlane, image);
        int weights = plan.WeightItems > 0 ? filterLength : 0, items = weights + (plan.BiasItems > 0 ? 1 : 0);
        int bands = plan.Chunks / shape.Batch;
        if (weights > 0)
            Stage(input, n * imageLength, imageLength, image);
        // Planes k and k + 1: consecutive in [N, K, P, Q].
        Stage(outputGrad, (n * K + k) * plane, channels * plane, gradPlane);
        Group.Barrier();

        for (int t = Group.IdxX; t < items * bands; t += Group.DimX)
        {
            int j = t / items, e = t - j * items, chunk = n * bands + j;
            int pFirst = j * P / bands, pEnd = (j + 1) * P / bands;
            float sum = 0f, sumOther = 0f;
            if (e < weights)
            {
                int s = e % S, r = e / S % R, c = e / (R * S);
                // Output columns q with 0 ≤ q·stride + s − padding < W.
                int w0 = s - shape.Padding, qFirst = w0 >= 0 ? 0 : (stride - 1 - w0) / stride;
                int qEnd = w0 >= W ? 0 : IntMin(Q, (W - 1 - w0) / stride + 1);
                for (int p = pFirst; p < pEnd; p++)
                {
                    int h = p * stride + r - shape.Padding;
                    if (h < 0 || h >= H) continue;
                    int gradRow = p * Q, inputRow = (c * H + h) * W + w0;
                    for (int q = qFirst; q < qEnd; q++)
                    {
                        float x = image[inputRow + q * stride];
                        sum += gradPlane[gradRow + q] * x;
                        if (pair)
                            sumOther += gradPlane[plane + gradRow + q] * x;
                    }
                }
                partials[(k * filterLength + e) * plan.Chunks + chunk] = sum;
                if (pair)
                    partials[((k + 1) * filterLength + e) * plan.Chunks + chunk] = sumOther;
            }
            else
            {
                for (int o = pFirst * Q; o < pEnd * Q; o++)
                {
                    sum += gradPlane[o];
                    if (pair)
                        sumOther += gradPlane[plane + o];
                }
                partials[plan.WeightItems + k * plan.Chunks + chunk] = sum;
                if (pair)
                    partials[plan.WeightItems + (k + 1) * plan.Chunks + chunk] = sumOther;
            }
        }
    }

    /// <summary>
    /// inputGrad of plane (n, c), group <paramref name="g"/> = n·C + c: the image's output gradient and channel c's
    /// filters of every output channel staged in shared memory, then one thread per input element, adding in the direct
    /// path's order (r, s, then k), so both give the same bits.
    /// </summary>
    private static void StagedInputGradient(ArrayView<float> weight, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, ArrayView<float> stagedGrad, ArrayView<float> stagedFilters, ConvShape shape,
        ConvBackwardPlan plan, int g, int channels)
    {
        int accumulate = plan.AccumulateInput;
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth;
        int groupsPerImage = C / channels, n = g / groupsPerImage, c0 = (g - n * groupsPerImage) * channels;
        int gradLength = K * P * Q, filter = R * S, filters = K * filter;
        Stage(outputGrad, n * gradLength, gradLength, stagedGrad);
        // stagedFilters[cc·K·R·S + (k·R + r)·S + s] = weight[k, c0 + cc, r, s]: per channel, K rows of R·S floats,
        // C·R·S apart.
        for (int j = Group.IdxX; j < channels * filters; j += Group.DimX)
        {
            int cc = j / filters, e = j - cc * filters, k = e / filter;
            stagedFilters[j] = weight[(k * C + c0 + cc) * filter + e - k * filter];
        }
        Group.Barrier();

        int inputPlane = H * W, inputBase = (n * C + c0) * inputPlane;
        for (int i = Group.IdxX; i < inputPlane; i += Group.DimX)
        {
            int h = i / W, w = i - h * W;
            if (channels == 1)
                Put(inputGrad, inputBase + i, InputGradientAt(stagedGrad, 0, stagedFilters, 0, filter, h, w, shape),
                    accumulate);
            else
            {
                InputGradientPairAt(stagedGrad, stagedFilters, filters, h, w, shape, out float first, out float second);
                Put(inputGrad, inputBase + i, first, accumulate);
                Put(inputGrad, inputBase + inputPlane + i, second, accumulate);
            }
        }
    }

    /// <summary>
    /// <see cref="InputGradientAt"/> for two input channels at once (filters at 0 and at <paramref name="second"/>,
    /// each K rows of R·S): each output-gradient value is read once for both sums, each sum added in InputGradientAt's
    /// order.
    /// </summary>
    private static void InputGradientPairAt(ArrayView<float> grad, ArrayView<float> filters, int second, int h, int w,
        ConvShape shape, out float first, out float other)
    {
        int K = shape.OutChannels, R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight,
            Q = shape.OutWidth, stride = shape.Stride;
        int hp = h + shape.Padding, wq = w + shape.Padding, filter = R * S;
        int rFirst = FirstTap(hp, P, stride), rLast = IntMin(R - 1, hp), sFirst = FirstTap(wq, Q, stride),
            sLast = IntMin(S - 1, wq);
        int pFirst = (hp - rFirst) / stride, qFirst = (wq - sFirst) / stride;
        first = 0f;
        other = 0f;
        for (int r = rFirst, p = pFirst; r <= rLast; r += stride, p--)
        for (int s = sFirst, q = qFirst; s <= sLast; s += stride, q--)
        {
            int gradAt = p * Q + q, filterAt = r * S + s;
            for (int k = 0; k < K; k++)
            {
                float g = grad[gradAt + k * P * Q];
                first += g * filters[filterAt + k * filter];
                other += g * filters[second + filterAt + k * filter];
            }
        }
    }

    /// <summary>
    /// ∂L/∂input at (h, w) of one input plane: Σ over the kernel rows r and columns s whose output (p, q) exists, then
    /// over the output channels k, of grad[gradBase + (k·P + p)·Q + q] · filters[filterBase + k·filterStride + r·S +
    /// s]. The taps (r, p) and (s, q) are stepped, not searched: r runs over the kernel rows with
    /// h + padding − r = p·stride for an output row 0 ≤ p &lt; P, p falling by one as r rises by the stride (the same
    /// for s and q).
    /// </summary>
    private static float InputGradientAt(ArrayView<float> grad, int gradBase, ArrayView<float> filters, int filterBase,
        int filterStride, int h, int w, ConvShape shape)
    {
        int K = shape.OutChannels, R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight,
            Q = shape.OutWidth, stride = shape.Stride;
        int hp = h + shape.Padding, wq = w + shape.Padding;
        int rFirst = FirstTap(hp, P, stride), rLast = IntMin(R - 1, hp), sFirst = FirstTap(wq, Q, stride),
            sLast = IntMin(S - 1, wq);
        int pFirst = (hp - rFirst) / stride, qFirst = (wq - sFirst) / stride;
        float sum = 0f;
        for (int r = rFirst, p = pFirst; r <= rLast; r += stride, p--)
        for (int s = sFirst, q = qFirst; s <= sLast; s += stride, q--)
        {
            int gradAt = gradBase + p * Q + q, filterAt = filterBase + r * S + s;
            for (int k = 0; k < K; k++)
                sum += grad[gradAt + k * P * Q] * filters[filterAt + k * filterStride];
        }
        return sum;
    }

    /// <summary>
    /// The smallest t ≥ 0 with x − t = o·stride for some o &lt; outputs (x ≥ 0); the caller's loop stops at the
    /// kernel's last tap and at x, so a result past either means no tap reaches an output.
    /// </summary>
    private static int FirstTap(int x, int outputs, int stride)
    {
        int lowest = IntMax(0, x - (outputs - 1) * stride);
        return lowest + (x - lowest) % stride;
    }

    /// <summary>
    /// One group per weight e, then per bias k (group index item = e, or weights + k): weightGrad[e] += Σ_chunk
    /// partials[e, chunk], biasGrad[k] += Σ_chunk partials[weights + k, chunk]; each thread adds every Group.DimX-th
    /// chunk, then the group's tree (the same order every run).
    /// </summary>
    private static void Conv2dBackwardSumKernel(ArrayView<float> partials, ArrayView<float> weightGrad,
        ArrayView<float> biasGrad, ConvShape shape, ConvBackwardPlan plan)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int chunks = plan.Chunks, weights = plan.WeightItems / chunks, item = Grid.IdxX, first = item * chunks,
            step = Group.DimX;
        // Four running sums per thread (chunks j, j + step, j + 2·step, j + 3·step), so four loads are in flight at a
        // time.
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int j = Group.IdxX;
        for (; j + 3 * step < chunks; j += 4 * step)
        {
            s0 += partials[first + j];
            s1 += partials[first + j + step];
            s2 += partials[first + j + 2 * step];
            s3 += partials[first + j + 3 * step];
        }
        for (; j < chunks; j += step)
            s0 += partials[first + j];
        float sum = GroupReduction.SumToFirst(scratch, s0 + s1 + (s2 + s3));
        if (Group.IdxX == 0)
        {
            if (item < weights)
                weightGrad[item] += sum;
            else
                biasGrad[item - weights] += sum;
        }
    }

    private static void ValidateConv(in ConvShape shape)
    {
        if (shape.Batch < 1 || shape.InChannels < 1 || shape.Height < 1 || shape.Width < 1 || shape.OutChannels < 1
            || shape.KernelHeight < 1 || shape.KernelWidth < 1 || shape.Stride < 1 || shape.Padding < 0
            || shape.Height + 2 * shape.Padding < shape.KernelHeight
            || shape.Width + 2 * shape.Padding < shape.KernelWidth)
            throw new ArgumentException(
                $"{shape} is not a valid convolution: sizes and stride must be positive, padding non-negative, and " +
                    "the kernel must fit the padded input.",
                nameof(shape));
    }
}
