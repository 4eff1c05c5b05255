using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// The backward of Conv2d → BatchNorm2d → ReLU → MaxPool2d (a block of LeNet-5, as the fused training forward runs it) in
// three launches instead of four: the block's gradient sums (launch A of BatchNormReluMaxPoolBackward) and, by the group
// that finishes last, the channels' totals and the gamma and beta gradients; then the convolution's backward, whose
// groups compute the convolution's output gradient as they stage it in shared memory — the block's input-gradient
// expression, window by window — instead of reading it (so BatchNorm's input gradient is never written); then the
// convolution's sum over chunks. Every value is the four launches' to the bit: the totals are added in the order each
// group of launch B added them, and each element's gradient is launch B's expression.
// Fewer launches but slower on the H200 (run 6: 50.0 µs against 34.5 for conv2's block, 28.9 against 23.9 for conv1's):
// each staged value waits on three loads and the expression, and conv2's input-gradient groups recompute their image's
// planes. The trainer uses it only with LENET_FUSED_BLOCK_BACKWARD=1 (CudaBackend.FusesBlockBackward).
public sealed partial class CudaKernels
{
    /// <summary>
    /// The block after a convolution, for a backward that computes the convolution's output gradient as it stages it:
    /// the pooled output's gradient, the pool's choices (flat indices into <see cref="Output"/>), the convolution's output
    /// (BatchNorm's input), BatchNorm's parameters and saved statistics, and the channels' totals (Σ dy, Σ dy·x̂ per
    /// channel) written by the gradient sums. <see cref="Output"/> empty: no block (the output gradient is read).
    /// </summary>
    internal readonly record struct ConvBlockGradient(ArrayView<float> PooledGrad, ArrayView<int> Argmax, ArrayView<float> Output,
        ArrayView<float> Gamma, ArrayView<float> Beta, ArrayView<float> Mean, ArrayView<float> InvStd, ArrayView<float> Totals, int PoolKernel)
    {
        /// <summary>No block: every view a placeholder the kernel does not read, Output empty.</summary>
        public static ConvBlockGradient None(ArrayView<float> placeholder) =>
            new(placeholder, default, default, placeholder, placeholder, placeholder, placeholder, placeholder, 1);
    }

    private Action<AcceleratorStream, KernelConfig, ConvBlockGradient, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, PoolShape>
        _bnReluMaxPoolGradientTotals = null!;

    // The count of the gradient sums' groups done, for the one that finishes last to add the totals (it resets the count to 0).
    private MemoryBuffer1D<int, Stride1D.Dense> _blockSumsDone = null!;

    private void LoadConvBlockBackward()
    {
        _blockSumsDone = Accelerator.Allocate1D<int>(1);
        _blockSumsDone.View.MemSetToZero(Stream);
        if (!SpecializesShapes)
        {
            _bnReluMaxPoolGradientTotals = Load<ConvBlockGradient, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, PoolShape>(
                BatchNormReluMaxPoolGradientTotalsKernel);
            return;
        }
        var totals = Load<ConvBlockGradient, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, SpecializedValue<int>, SpecializedValue<PoolShape>>(
            BatchNormReluMaxPoolGradientTotalsSpecializedKernel);
        _bnReluMaxPoolGradientTotals = (stream, config, block, partials, gammaGrad, betaGrad, done, planes, shape) =>
            totals(stream, config, block, partials, gammaGrad, betaGrad, done, SpecializedValue.New(planes), SpecializedValue.New(shape));
    }

    /// <summary>
    /// Whether <see cref="Conv2dBatchNormReluMaxPoolBackward"/> takes <paramref name="conv"/> with a max-pool of window
    /// and stride <paramref name="poolKernel"/>: the windows tile the convolution's output planes, and the staged paths
    /// take the gradients asked for — the weight and bias partials always (an image and an output plane fit in shared
    /// memory), the input gradient with <paramref name="inputGradient"/> (an image's output gradient fits). Both of
    /// LeNet-5's blocks qualify (its first convolution needs no input gradient).
    /// </summary>
    public static bool BackwardFusesBlock(in ConvShape conv, int poolKernel, bool inputGradient) =>
        poolKernel >= 1 && conv.OutHeight % poolKernel == 0 && conv.OutWidth % poolKernel == 0
        && WeightGradientIsStaged(conv) && (!inputGradient || InputGradientIsStaged(conv));

    /// <summary>
    /// The backward of convOutput = conv(input, weight) + bias followed by pooled = MaxPool(ReLU(BatchNorm(convOutput)))
    /// in training mode (pool window = stride = <paramref name="poolKernel"/>): accumulates inputGrad (overwrites it
    /// without <paramref name="accumulateInput"/>), weightGrad, biasGrad, gammaGrad and betaGrad, each the value
    /// BatchNormReluMaxPoolBackward (overwriting the convolution's output gradient) then Conv2dBackward give, bit for bit,
    /// in three launches instead of four, without writing the convolution's output gradient. inputGrad, weightGrad and
    /// biasGrad may be empty to skip them (input, or weight, is then not read). Only where
    /// <see cref="BackwardFusesBlock"/> holds.
    /// </summary>
    public void Conv2dBatchNormReluMaxPoolBackward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> convOutput,
        ArrayView<float> pooledGrad, ArrayView<int> argmax, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> inputGrad, ArrayView<float> weightGrad, ArrayView<float> biasGrad, ArrayView<float> gammaGrad, ArrayView<float> betaGrad,
        in ConvShape conv, int poolKernel, bool accumulateInput = true)
    {
        ValidateConv(conv);
        if (!BackwardFusesBlock(conv, poolKernel, inputGrad.Length > 0))
            throw new ArgumentException($"{conv} with a {poolKernel}×{poolKernel} max-pool does not fit the staged backward that computes the block's gradient; run BatchNormReluMaxPoolBackward, then Conv2dBackward.", nameof(conv));
        var shape = new PoolShape(conv.Batch, conv.OutChannels, conv.OutHeight, conv.OutWidth, poolKernel, poolKernel);
        ValidatePool(shape);
        var normShape = new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
        SpanLength.Require(Checked(convOutput.Length, nameof(convOutput)), conv.OutputLength, nameof(convOutput), conv);
        SpanLength.Require(Checked(pooledGrad.Length, nameof(pooledGrad)), shape.OutputLength, nameof(pooledGrad), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        RequireConvGradients(input, weight, inputGrad, weightGrad, biasGrad, conv);
        RequireChannels(gamma, beta, mean, invStd, gammaGrad, betaGrad, normShape);

        int planesPerChunk = FusedPlanesPerChunk(shape), groups = shape.Channels * FusedChunks(shape);
        lock (_fusedPartialsLock)
        {
            // The chunks' (Σ dy, Σ dy·x̂), then the channels' totals.
            var partials = FusedPartials(2 * groups + 2 * shape.Channels);
            var totals = partials.SubView(2 * groups, 2 * shape.Channels);
            var block = new ConvBlockGradient(pooledGrad, argmax, convOutput, gamma, beta, mean, invStd, totals, poolKernel);
            _bnReluMaxPoolGradientTotals(Stream, new KernelConfig(groups, GroupSize), block, partials, gammaGrad, betaGrad, _blockSumsDone.View,
                planesPerChunk, shape);
            LaunchConvBackward(input, weight, convOutput, inputGrad, weightGrad, biasGrad, block, conv, accumulateInput);
        }
    }

    /// <summary><see cref="BatchNormReluMaxPoolGradientTotalsKernel"/> compiled for one chunking and shape (<see cref="SpecializesShapes"/>).</summary>
    private static void BatchNormReluMaxPoolGradientTotalsSpecializedKernel(ConvBlockGradient block, ArrayView<float> partials,
        ArrayView<float> gammaGrad, ArrayView<float> betaGrad, ArrayView<int> groupsDone, SpecializedValue<int> planesPerChunk, SpecializedValue<PoolShape> shape) =>
        BatchNormReluMaxPoolGradientTotalsKernel(block, partials, gammaGrad, betaGrad, groupsDone, planesPerChunk.Value, shape.Value);

    /// <summary>
    /// Launch A of the block's backward (<see cref="BatchNormReluMaxPoolGradientSumsKernel"/> over the block's views: each
    /// chunk's Σ dy, Σ dy·x̂ at partials[2·(c·G + g) ..]; the block's totals are not read), then the group that finishes last (device fence, atomic count, reset by it) adds each
    /// channel's chunks as launch B's groups do — the same threads, the same order — into partials[2·C·G + 2·c ..] and
    /// adds the totals to gammaGrad[c] (Σ dy·x̂) and betaGrad[c] (Σ dy).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BatchNormReluMaxPoolGradientTotalsKernel(ConvBlockGradient block, ArrayView<float> partials,
        ArrayView<float> gammaGrad, ArrayView<float> betaGrad, ArrayView<int> groupsDone, int planesPerChunk, PoolShape shape)
    {
        BatchNormReluMaxPoolGradientSumsKernel(block.PooledGrad, block.Argmax, block.Output, block.Gamma, block.Beta, block.Mean, block.InvStd,
            partials, planesPerChunk, shape);
        var isLast = SharedMemory.Allocate<int>(1);
        var scratchDy = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        var scratchDyXhat = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (Group.IdxX == 0)
            isLast[0] = Atomic.Add(ref groupsDone[0], 1) == Grid.DimX - 1 ? 1 : 0;
        Group.Barrier();
        if (isLast[0] == 0)
            return;
        MemoryFence.DeviceLevel();
        int C = shape.Channels, chunks = Grid.DimX / C, totalsAt = 2 * Grid.DimX;
        for (int c = 0; c < C; c++)
        {
            var (totalDy, totalDyXhat) = ChannelGradientTotals(partials, c, chunks, scratchDy, scratchDyXhat);
            if (Group.IdxX == 0)
            {
                partials[totalsAt + 2 * c] = totalDy;
                partials[totalsAt + 2 * c + 1] = totalDyXhat;
                gammaGrad[c] += totalDyXhat;
                betaGrad[c] += totalDy;
            }
        }
        if (Group.IdxX == 0)
            groupsDone[0] = 0;
    }

    /// <summary>
    /// target[j·P·Q + p·Q + q] = ∂L/∂convOutput[n, k0 + j, p, q] for the <paramref name="planes"/> planes from k0 of image
    /// n, by the whole group, one pooling window per thread: launch B's expression scale·(dy − mean dy − x̂·mean dy·x̂)
    /// with dy the window's gradient at the element it chose, where the element passed the ReLU (0 elsewhere).
    /// </summary>
    private static void StageBlockGradient(ConvBlockGradient block, ConvShape shape, int n, int k0, int planes, ArrayView<float> target)
    {
        int K = shape.OutChannels, P = shape.OutHeight, Q = shape.OutWidth, plane = P * Q, window = block.PoolKernel;
        int windowRows = P / window, windowColumns = Q / window, windows = windowRows * windowColumns, count = shape.Batch * plane;
        for (int j = Group.IdxX; j < planes * windows; j += Group.DimX)
        {
            int kk = j / windows, pq = j - kk * windows, wp = pq / windowColumns, wq = pq - wp * windowColumns, k = k0 + kk;
            float mu = block.Mean[k], inv = block.InvStd[k], scale = block.Gamma[k] * inv, shift = block.Beta[k];
            float meanDy = block.Totals[2 * k] / count, meanDyXhat = block.Totals[2 * k + 1] / count;
            int planeIndex = n * K + k, o = planeIndex * windows + pq, chosen = block.Argmax[o];
            float windowGrad = block.PooledGrad[o];
            for (int r = 0; r < window; r++)
            for (int t = 0; t < window; t++)
            {
                int at = (wp * window + r) * Q + wq * window + t, i = planeIndex * plane + at;
                float x = block.Output[i];
                float dy = i == chosen && scale * (x - mu) + shift > 0f ? windowGrad : 0f;
                target[kk * plane + at] = scale * (dy - meanDy - (x - mu) * inv * meanDyXhat);
            }
        }
    }
}
