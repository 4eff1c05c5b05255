// Evaluation-mode convolution block, NCHW: BatchNorm's running statistics folded into the convolution's weight and bias
// on every call, then per image (images split across the workers) the convolution into a per-thread [K, P, Q] scratch
// that stays in cache, and ReLU + max pooling from it straight into the pooled output: no [N, K, P, Q] tensor.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

public static unsafe partial class Conv2d
{
    // The caller's folded weight [K, C, R, S] followed by the folded bias [K]; each thread's conv output of one image.
    [ThreadStatic] private static float[]? _foldedWeight, _blockImage;

    /// <summary>What an image of the fused evaluation block needs: the convolution's state and where it pools
    /// to.</summary>
    private struct InferenceBlock
    {
        public State Conv;
        public float* Pooled;
        public int Window;
        public bool Implicit;
    }

    /// <summary>
    /// pooled[n,k,i,j] = max over the window·window block at (i·window, j·window) of ReLU(BatchNorm(conv)[n,k,·,·]),
    /// BatchNorm in evaluation mode ((y − runningMean)·gamma/√(runningVar + eps) + beta), window = stride: what
    /// <see cref="Forward"/>, <see cref="BatchNorm2d.ForwardInference"/>, <see cref="ReLU.Forward"/> and
    /// <see cref="MaxPool2d.Forward"/> compute in turn, up to rounding (the scale is folded into the weights before the
    /// sums instead of applied after them). An empty bias means none. Overwrites pooledOutput
    /// [N, K, P/window, Q/window].
    /// </summary>
    public static void ForwardBatchNormReLUMaxPool(ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> runningMean,
        ReadOnlySpan<float> runningVar, float eps, Span<float> pooledOutput, in ConvShape shape, int window)
    {
        switch (Dispatch)
        {
            case 512:
                ForwardBatchNormReLUMaxPool<Vector512<float>>(input, weight, bias, gamma, beta, runningMean, runningVar,
                    eps, pooledOutput, shape, window, Engine.Auto);
                break;
            case 256:
                ForwardBatchNormReLUMaxPool<Vector256<float>>(input, weight, bias, gamma, beta, runningMean, runningVar,
                    eps, pooledOutput, shape, window, Engine.Auto);
                break;
            default:
                ForwardBatchNormReLUMaxPool<Vector128<float>>(input, weight, bias, gamma, beta, runningMean, runningVar,
                    eps, pooledOutput, shape, window, Engine.Auto);
                break;
        }
    }

    internal static void ForwardBatchNormReLUMaxPool<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> runningMean,
        ReadOnlySpan<float> runningVar, float eps, Span<float> pooledOutput, in ConvShape shape, int window,
        Engine engine) where TV : struct
    {
        Validate(shape);
        var pool = new PoolShape(shape.Batch, shape.OutChannels, shape.OutHeight, shape.OutWidth, window, window);
        if (window < 1 || window > shape.OutHeight || window > shape.OutWidth)
            throw new ArgumentException(
                $"Pooling window {window} does not fit the convolution's output {shape.OutHeight}×{shape.OutWidth}.",
                nameof(window));
        int K = shape.OutChannels, taps = shape.InChannels * shape.KernelHeight * shape.KernelWidth;
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, K, nameof(bias), shape);
        SpanLength.Require(gamma.Length, K, nameof(gamma), shape);
        SpanLength.Require(beta.Length, K, nameof(beta), shape);
        SpanLength.Require(runningMean.Length, K, nameof(runningMean), shape);
        SpanLength.Require(runningVar.Length, K, nameof(runningVar), shape);
        SpanLength.Require(pooledOutput.Length, pool.OutputLength, nameof(pooledOutput), shape);
        fixed (float* x = input, w = weight, b = bias, g = gamma, be = beta, mean = runningMean, variance = runningVar,
            y = pooledOutput)
        {
            // Folded from the tensors as they are now, on every call (K·C·R·S multiplies, 2,400 for LeNet's conv2): a
            // training step or a loaded checkpoint between two evaluations can never leave a stale copy behind.
            float* folded = GemmScratch.Get(ref _foldedWeight, K * taps + K), foldedBias = folded + (nint)K * taps;
            for (int k = 0; k < K; k++)
            {
                // The scale exactly as BatchNorm2d's evaluation pass computes it, so that only the order of roundings
                // differs.
                float scale = g[k] * (float)(1 / Math.Sqrt((double)variance[k] + eps));
                for (int t = 0; t < taps; t++) folded[(nint)k * taps + t] = w[(nint)k * taps + t] * scale;
                foldedBias[k] = MathF.FusedMultiplyAdd((bias.IsEmpty ? 0 : b[k]) - mean[k], scale, be[k]);
            }
            var block = new InferenceBlock
            {
                Conv = new State { Shape = shape, Input = x, Weight = folded, Bias = foldedBias },
                Pooled = y, Window = window, Implicit = shape.Stride == 1 && engine != Engine.Im2Col,
            };
            if (block.Implicit) PrepareImplicit<TV>(ref block.Conv, folded, engine);
            block.Conv.Conv.ChannelsLast = block.Implicit && block.Conv.Conv.Lanes;
            block.Conv.Conv.KeepWide = block.Implicit && !block.Conv.Conv.Lanes && !block.Conv.Conv.Rows;
            // The pooling's width is chosen here, on the caller's thread, where a test's width override is visible.
            switch (Math.Min(Count<TV>() * 32, ElementwiseSimd.WidthFor(pool.OutWidth)))
            {
                case 512:
                    Workers.Run(shape.Batch, &block, &InferenceImage<TV, Vector512<float>, ElementwiseSimd512>);
                    break;
                case 256:
                    Workers.Run(shape.Batch, &block, &InferenceImage<TV, Vector256<float>, ElementwiseSimd256>);
                    break;
                default:
                    Workers.Run(shape.Batch, &block, &InferenceImage<TV, Vector128<float>, ElementwiseSimd128>);
                    break;
            }
        }
    }

    /// <summary>Image n: the folded convolution into this thread's scratch, then ReLU and max pooling plane by
    /// plane.</summary>
    private static void InferenceImage<TV, TP, TS>(void* raw, int n)
        where TV : struct where TP : struct where TS : IElementwiseSimd<TP>
    {
        var block = (InferenceBlock*)raw;
        ref readonly var shape = ref block->Conv.Shape;
        int K = shape.OutChannels, P = shape.OutHeight, Q = shape.OutWidth, window = block->Window;
        int pooledHeight = P / window, pooledWidth = Q / window;
        ref readonly var conv = ref block->Conv.Conv;
        float* pooled = block->Pooled + (nint)n * K * pooledHeight * pooledWidth;
        if (conv.ChannelsLast)
        {
            // The lanes engine's tiles as they are: each window's max is a few vector compares over the channels.
            float* tiles = GemmScratch.Get(ref _blockImage, conv.PackedLd * P * Q);
            ImplicitImage<TV>(&block->Conv, n, tiles);
            switch (conv.LaneWidth * 10 + conv.LaneVectors)
            {
                case 161:
                    ReLUMaxPoolChannelsLast<Vector512<float>, ElementwiseSimd512, ConvLanes.OneVector>(tiles, conv,
                        window, pooled);
                    break;
                case 162:
                    ReLUMaxPoolChannelsLast<Vector512<float>, ElementwiseSimd512, ConvLanes.TwoVectors>(tiles, conv,
                        window, pooled);
                    break;
                case 81:
                    ReLUMaxPoolChannelsLast<Vector256<float>, ElementwiseSimd256, ConvLanes.OneVector>(tiles, conv,
                        window, pooled);
                    break;
                case 82:
                    ReLUMaxPoolChannelsLast<Vector256<float>, ElementwiseSimd256, ConvLanes.TwoVectors>(tiles, conv,
                        window, pooled);
                    break;
                case 41:
                    ReLUMaxPoolChannelsLast<Vector128<float>, ElementwiseSimd128, ConvLanes.OneVector>(tiles, conv,
                        window, pooled);
                    break;
                default:
                    ReLUMaxPoolChannelsLast<Vector128<float>, ElementwiseSimd128, ConvLanes.TwoVectors>(tiles, conv,
                        window, pooled);
                    break;
            }
            return;
        }
        if (conv.KeepWide)
        {
            // The GEMM engine's rows as they are, Wp apart with the columns past Q unused; the bias after the max.
            float* wide = ImplicitImage<TV>(&block->Conv, n, null);
            int Wp = conv.Width + 2 * conv.PadW;
            for (int k = 0; k < K; k++)
                ReLUMaxPoolPlane<TP, TS>(wide + (nint)k * P * Wp, P, Q, Wp, window,
                    conv.Bias != null ? conv.Bias[k] : 0, pooled + (nint)k * pooledHeight * pooledWidth);
            return;
        }
        float* image = GemmScratch.Get(ref _blockImage, K * P * Q);
        if (block->Implicit) ImplicitImage<TV>(&block->Conv, n, image);
        else ForwardImageIm2Col<TV>(&block->Conv, n, image);
        for (int k = 0; k < K; k++)
            ReLUMaxPoolPlane<TP, TS>(image + (nint)k * P * Q, P, Q, Q, window, null,
                pooled + (nint)k * pooledHeight * pooledWidth);
    }

    /// <summary>
    /// From the lanes engine's channels-last tiles [K / block][P][Q][block] without the bias: pooled[k, i, j] =
    /// ReLU(max over the window of the tiles + bias[k]). The bias is added after the max (rounding is monotone, so the
    /// max of the sums is the sum of the max) and the window is compared in <see cref="ReLUMaxPoolPlane"/>'s order:
    /// the same bits as the planar path.
    /// </summary>
    [SkipLocalsInit]
    private static void ReLUMaxPoolChannelsLast<TL, TS, TN>(float* tiles, in Implicit conv, int window, float* pooled)
        where TL : struct where TS : IElementwiseSimd<TL> where TN : struct, ConvLanes.IVectorCount
    {
        int K = conv.OutChannels, P = conv.OutHeight, Q = conv.OutWidth, width = TS.Count, block = TN.Value * width;
        int pooledHeight = P / window, pooledWidth = Q / window, pooledPlane = pooledHeight * pooledWidth;
        float* bias = stackalloc float[32];
        float* lanes = stackalloc float[32];
        for (int k0 = 0; k0 < K; k0 += block)
        {
            int channels = Math.Min(block, K - k0);
            for (int c = 0; c < block; c++) bias[c] = c < channels ? conv.Bias[k0 + c] : 0;
            float* plane = tiles + (nint)(k0 / block) * P * Q * block;
            for (int i = 0; i < pooledHeight; i++)
            for (int j = 0; j < pooledWidth; j++)
            {
                float* corner = plane + ((nint)i * window * Q + j * window) * block;
                for (int v = 0; v < TN.Value; v++)
                {
                    var max = TS.Load(corner + v * width);
                    for (int r = 0; r < window; r++)
                    for (int t = 0; t < window; t++)
                    {
                        if (r == 0 && t == 0) continue;
                        var x = TS.Load(corner + ((nint)r * Q + t) * block + v * width);
                        max = TS.Select(TS.GreaterThan(x, max), x, max);
                    }
                    max = TS.Add(max, TS.Load(bias + v * width));
                    TS.Store(lanes + v * width, TS.Select(TS.LessThan(max, TS.Zero), TS.Zero, max));
                }
                for (int c = 0; c < channels; c++)
                    pooled[(nint)(k0 + c) * pooledPlane + i * pooledWidth + j] = lanes[c];
            }
        }
    }

    /// <summary>
    /// output[i, j] = ReLU(max of the plane's window·window block at (i·window, j·window) + bias), which equals the
    /// max of the ReLUs (ReLU does not decrease); the plane's rows are rowStride apart. The bias is added after the
    /// max, which gives the bits of adding it before (rounding is monotone). 2×2 windows with rows of at least
    /// TS.Count outputs run in SIMD (even and odd columns deinterleaved; a last, overlapping chunk covers the row's
    /// tail); others are scalar.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReLUMaxPoolPlane<TP, TS>(float* plane, int P, int Q, int rowStride, int window, float? bias,
        float* output) where TP : struct where TS : IElementwiseSimd<TP>
    {
        int pooledHeight = P / window, pooledWidth = Q / window;
        bool addBias = bias.HasValue;
        float biasValue = bias ?? 0;
        if (window == 2 && pooledWidth >= TS.Count)
        {
            var biasVector = TS.Splat(biasValue);
            for (int i = 0; i < pooledHeight; i++)
            {
                float* top = plane + 2 * i * rowStride, bottom = top + rowStride, row = output + i * pooledWidth;
                for (int j = 0; ; j += TS.Count)
                {
                    if (j > pooledWidth - TS.Count) j = pooledWidth - TS.Count;
                    TS.Deinterleave(TS.Load(top + 2 * j), TS.Load(top + 2 * j + TS.Count), out var a, out var b);
                    TS.Deinterleave(TS.Load(bottom + 2 * j), TS.Load(bottom + 2 * j + TS.Count), out var c, out var d);
                    var max = TS.Select(TS.GreaterThan(b, a), b, a);
                    max = TS.Select(TS.GreaterThan(c, max), c, max);
                    max = TS.Select(TS.GreaterThan(d, max), d, max);
                    if (addBias) max = TS.Add(max, biasVector);
                    TS.Store(row + j, TS.Select(TS.LessThan(max, TS.Zero), TS.Zero, max));
                    if (j == pooledWidth - TS.Count) break;
                }
            }
            return;
        }
        for (int i = 0; i < pooledHeight; i++)
        for (int j = 0; j < pooledWidth; j++)
        {
            float* corner = plane + i * window * rowStride + j * window;
            float max = corner[0];
            for (int r = 0; r < window; r++)
            for (int t = 0; t < window; t++)
                if (corner[r * rowStride + t] > max) max = corner[r * rowStride + t];
            output[i * pooledWidth + j] = ReLU.Apply(addBias ? max + biasValue : max);
        }
    }
}
