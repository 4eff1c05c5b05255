// Batch normalisation over [N, C, Spatial] by (n, c) planes: per-plane mean and squared deviations (two passes over a
// plane in cache, blocks flushed to double), merged per channel in plane order (Chan's formula), then SIMD normalise;
// planes split across Workers. Also fused with ReLU and k×k max pooling.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Per-channel batch normalisation over [N, C, Spatial], PyTorch semantics (as the Reference kernel): training
/// normalises with the batch mean and biased variance and moves the running variance with the unbiased one; evaluation
/// uses running statistics. Statistics are exact to float rounding and bit-identical for any thread count: every
/// plane's partials are computed on their own and merged in plane order.
/// </summary>
public static unsafe class BatchNorm2d
{
    /// <summary>Partial sums are flushed from float vectors to double every this many values, bounding float
    /// rounding.</summary>
    private const int Block = 1024;

    private struct Pass
    {
        public float* Input, Output, OutputGrad, InputGrad, Gamma, Beta, Mean, InvStd, RunningVar, Pooled, PooledGrad;
        public int* Argmax;
        public double* Partials;   // two per plane
        public double* Channel;    // per channel: scale, input coefficient, constant (backward) or inverse std
                                   // (inference)
        public PoolShape Pool;
        public int Channels, Spatial, Planes, PlanesPerPart;
        public float Eps;
        public bool Inference, Overwrite, Gather;
        // The vector width (bits) of the backward's direct term over 2×2 windows of stride 2; 0: the scalar scatter.
        public int DirectWidth;
    }

    /// <summary>
    /// Training forward. Overwrites output, saves mean[c] and invStd[c] = 1/√(var_biased + eps) for backward, and
    /// updates runningMean/runningVar in place: r = (1 − momentum)·r + momentum·batchStat (variance unbiased:
    /// ·n/(n−1)).
    /// </summary>
    public static void ForwardTraining(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> output, Span<float> mean, Span<float> invStd, Span<float> runningMean, Span<float> runningVar,
        float momentum, float eps, in BatchNormShape shape)
    {
        ValidateTraining(shape);
        SpanLength.Require(input.Length, shape.Length, nameof(input), shape);
        SpanLength.Require(output.Length, shape.Length, nameof(output), shape);
        RequireChannels(gamma, beta, mean, invStd, runningMean, runningVar, shape);
        var scratch = ElementwiseScratch.Rent(2 * shape.Batch * shape.Channels);
        fixed (float* x = input, y = output, g = gamma, b = beta, m = mean, inv = invStd, rm = runningMean,
            rv = runningVar)
        fixed (double* partials = scratch)
        {
            var pass = new Pass
            {
                Input = x, Output = y, Gamma = g, Beta = b, Mean = m, InvStd = inv, Partials = partials,
                Channels = shape.Channels, Spatial = shape.Spatial, Planes = shape.Batch * shape.Channels,
            };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.Length, out pass.PlanesPerPart);
            Statistics(&pass, parts, shape, rm, rv, momentum, eps);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &NormalizePart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &NormalizePart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &NormalizePart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
        ElementwiseScratch.Return(scratch);
    }

    /// <summary>Evaluation forward: output = gamma·(x − runningMean)/√(runningVar + eps) + beta. Overwrites
    /// output.</summary>
    public static void ForwardInference(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float eps, Span<float> output,
        in BatchNormShape shape)
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.Length, nameof(input), shape);
        SpanLength.Require(output.Length, shape.Length, nameof(output), shape);
        RequireChannels(gamma, beta, runningMean, runningVar, runningMean, runningVar, shape);
        fixed (float* x = input, y = output, g = gamma, b = beta, rm = runningMean, rv = runningVar)
        {
            var pass = new Pass
            {
                Input = x, Output = y, Gamma = g, Beta = b, Mean = rm, RunningVar = rv, Eps = eps, Inference = true,
                Channels = shape.Channels, Spatial = shape.Spatial, Planes = shape.Batch * shape.Channels,
            };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.Length, out pass.PlanesPerPart);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &NormalizePart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &NormalizePart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &NormalizePart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    /// <summary>
    /// Training backward (batch statistics), given the saved mean and invStd:
    /// gammaGrad += Σ dy·x̂, betaGrad += Σ dy, inputGrad += gamma·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, Span<float> inputGrad, Span<float> gammaGrad,
        Span<float> betaGrad, in BatchNormShape shape)
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.Length, nameof(outputGrad), shape);
        SpanLength.Require(input.Length, shape.Length, nameof(input), shape);
        SpanLength.Require(inputGrad.Length, shape.Length, nameof(inputGrad), shape);
        RequireChannels(gamma, mean, invStd, gammaGrad, betaGrad, gammaGrad, shape);
        var scratch = ElementwiseScratch.Rent(2 * shape.Batch * shape.Channels + 3 * shape.Channels);
        fixed (float* dy = outputGrad, x = input, g = gamma, m = mean, inv = invStd, dx = inputGrad, dg = gammaGrad,
            db = betaGrad)
        fixed (double* partials = scratch)
        {
            var pass = new Pass
            {
                OutputGrad = dy, Input = x, Gamma = g, Mean = m, InvStd = inv, InputGrad = dx,
                Partials = partials, Channel = partials + 2 * shape.Batch * shape.Channels,
                Channels = shape.Channels, Spatial = shape.Spatial, Planes = shape.Batch * shape.Channels,
            };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, 2L * shape.Length, out pass.PlanesPerPart);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &GradientSumsPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &GradientSumsPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &GradientSumsPart<Vector128<float>, ElementwiseSimd128>); break;
            }
            BackwardCoefficients(&pass, shape.Batch, dg, db);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &InputGradPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &InputGradPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &InputGradPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
        ElementwiseScratch.Return(scratch);
    }

    /// <summary>
    /// Training forward fused with ReLU and max pooling (kernel = stride = k, as <paramref name="shape"/> says): the
    /// same statistics, mean, invStd and running-statistics update as <see cref="ForwardTraining"/>, but instead of the
    /// normalised [N, C, H, W] it writes only pooledOutput [N, C, P, Q] = maxpool(relu(batchnorm(input))) and argmax
    /// (flat indices into input), bit-identical to running <see cref="ForwardTraining"/>, <see cref="ReLU.Forward"/>
    /// and <see cref="MaxPool2d.Forward"/> in turn (ReLU's zeros tie, so an all-negative window points at its first
    /// element).
    /// </summary>
    public static void ForwardTrainingReLUMaxPool(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, Span<float> pooledOutput, Span<int> argmax, Span<float> mean, Span<float> invStd,
        Span<float> runningMean, Span<float> runningVar, float momentum, float eps, in PoolShape shape)
    {
        var normShape = ValidateFused(shape);
        ValidateTraining(normShape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(pooledOutput.Length, shape.OutputLength, nameof(pooledOutput), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        RequireChannels(gamma, beta, mean, invStd, runningMean, runningVar, normShape);
        var scratch = ElementwiseScratch.Rent(2 * shape.Batch * shape.Channels);
        fixed (float* x = input, y = pooledOutput, g = gamma, b = beta, m = mean, inv = invStd, rm = runningMean,
            rv = runningVar)
        fixed (int* index = argmax)
        fixed (double* partials = scratch)
        {
            var pass = new Pass
            {
                Input = x, Pooled = y, Argmax = index, Gamma = g, Beta = b, Mean = m, InvStd = inv, Partials = partials,
                Pool = shape, Channels = shape.Channels, Spatial = normShape.Spatial,
                Planes = shape.Batch * shape.Channels,
            };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            Statistics(&pass, parts, normShape, rm, rv, momentum, eps);
            RunNormalizeReLUPool(&pass, parts, shape.OutWidth);
        }
        ElementwiseScratch.Return(scratch);
    }

    /// <summary>
    /// Evaluation forward fused with ReLU and max pooling (kernel = stride): pooledOutput [N, C, P, Q] and argmax as
    /// <see cref="ForwardInference"/>, <see cref="ReLU.Forward"/> and <see cref="MaxPool2d.Forward"/> in turn would
    /// write them.
    /// </summary>
    public static void ForwardInferenceReLUMaxPool(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float eps,
        Span<float> pooledOutput, Span<int> argmax, in PoolShape shape)
    {
        var normShape = ValidateFused(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(pooledOutput.Length, shape.OutputLength, nameof(pooledOutput), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        RequireChannels(gamma, beta, runningMean, runningVar, runningMean, runningVar, normShape);
        fixed (float* x = input, y = pooledOutput, g = gamma, b = beta, rm = runningMean, rv = runningVar)
        fixed (int* index = argmax)
        {
            var pass = new Pass
            {
                Input = x, Pooled = y, Argmax = index, Gamma = g, Beta = b, Mean = rm, RunningVar = rv, Eps = eps,
                Inference = true, Pool = shape, Channels = shape.Channels, Spatial = normShape.Spatial,
                Planes = shape.Batch * shape.Channels,
            };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            RunNormalizeReLUPool(&pass, parts, shape.OutWidth);
        }
    }

    /// <summary>
    /// Backward of <see cref="ForwardTrainingReLUMaxPool"/>. Takes the pooled-output gradient [N, C, P, Q], the argmax
    /// and pooledOutput that forward wrote, its input (the BatchNorm input) [N, C, H, W], gamma, and the saved mean
    /// and invStd; accumulates (+=) into inputGrad [N, C, H, W], gammaGrad and betaGrad [C] what
    /// <see cref="MaxPool2d.Backward"/>, <see cref="ReLU.Backward"/> and <see cref="Backward"/> in turn would add; with
    /// <paramref name="accumulateInputGrad"/> false it overwrites inputGrad instead (whatever it held), so a caller's
    /// scratch needs no clearing pass.
    /// Only argmax positions whose pooled output is positive pass a gradient through ReLU (the pooled value is the ReLU
    /// output there), so the BatchNorm sums run over those alone and the dense pass is one affine map of the input.
    /// </summary>
    public static void BackwardReLUMaxPool(ReadOnlySpan<float> pooledGrad, ReadOnlySpan<int> argmax,
        ReadOnlySpan<float> pooledOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, Span<float> inputGrad, Span<float> gammaGrad,
        Span<float> betaGrad, in PoolShape shape, bool accumulateInputGrad = true)
    {
        var normShape = ValidateFused(shape);
        SpanLength.Require(pooledGrad.Length, shape.OutputLength, nameof(pooledGrad), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(pooledOutput.Length, shape.OutputLength, nameof(pooledOutput), shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        RequireChannels(gamma, mean, invStd, gammaGrad, betaGrad, gammaGrad, normShape);
        var scratch = ElementwiseScratch.Rent(2 * shape.Batch * shape.Channels + 3 * shape.Channels);
        fixed (float* dp = pooledGrad, pooled = pooledOutput, x = input, g = gamma, m = mean, inv = invStd,
            dx = inputGrad, dg = gammaGrad, db = betaGrad)
        fixed (int* index = argmax)
        fixed (double* partials = scratch)
        {
            var pass = new Pass
            {
                PooledGrad = dp, Argmax = index, Pooled = pooled, Input = x, Gamma = g, Mean = m, InvStd = inv,
                InputGrad = dx, Partials = partials, Channel = partials + 2 * shape.Batch * shape.Channels,
                Pool = shape, Channels = shape.Channels, Spatial = normShape.Spatial,
                Planes = shape.Batch * shape.Channels, Overwrite = !accumulateInputGrad,
                // Chosen on the caller's thread, where a test's width override is visible (128 bits: the scalar loop).
                Gather = Avx2.IsSupported && Fma.IsSupported && ElementwiseSimd.Width >= 256,
                DirectWidth = DirectTermWidth(shape),
            };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            Workers.Run(parts, &pass, &PooledGradientSumsPart);
            BackwardCoefficients(&pass, shape.Batch, dg, db);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &PooledInputGradPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &PooledInputGradPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &PooledInputGradPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
        ElementwiseScratch.Return(scratch);
    }

    // ---- statistics ----

    /// <summary>Per-plane partials in parallel, then per channel (serially, in plane order) mean, invStd and running
    /// statistics.</summary>
    private static void Statistics(Pass* pass, int parts, in BatchNormShape shape, float* runningMean,
        float* runningVar, float momentum, float eps)
    {
        switch (ElementwiseSimd.Width)
        {
            case 512: Workers.Run(parts, pass, &PlaneStatisticsPart<Vector512<float>, ElementwiseSimd512>); break;
            case 256: Workers.Run(parts, pass, &PlaneStatisticsPart<Vector256<float>, ElementwiseSimd256>); break;
            default: Workers.Run(parts, pass, &PlaneStatisticsPart<Vector128<float>, ElementwiseSimd128>); break;
        }
        int N = shape.Batch, C = shape.Channels, S = shape.Spatial;
        double count = (double)N * S;
        for (int c = 0; c < C; c++)
        {
            double meanSum = 0;
            for (int n = 0; n < N; n++)
                meanSum += pass->Partials[2 * (n * C + c)];
            double mu = meanSum / N;
            // Chan et al.: the squared deviations about the channel mean are each plane's own plus
            // S·(plane mean − mean)².
            double squares = 0;
            for (int n = 0; n < N; n++)
            {
                double planeMean = pass->Partials[2 * (n * C + c)];
                double shift = planeMean - mu;
                squares += pass->Partials[2 * (n * C + c) + 1] + S * shift * shift;
            }
            double biasedVar = squares / count, unbiasedVar = squares / (count - 1);
            pass->Mean[c] = (float)mu;
            pass->InvStd[c] = (float)(1 / Math.Sqrt(biasedVar + eps));
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * (float)mu;
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * (float)unbiasedVar;
        }
    }

    private static void PlaneStatisticsPart<TV, TS>(void* state, int part)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int S = pass->Spatial;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            float* x = pass->Input + (long)plane * S;
            double sum = 0;
            for (int start = 0; start < S; start += Block)
                sum += BlockSum<TV, TS>(x + start, Math.Min(Block, S - start));
            double planeMean = sum / S;
            float center = (float)planeMean;
            double squares = 0;
            for (int start = 0; start < S; start += Block)
                squares += BlockSquaredDeviations<TV, TS>(x + start, Math.Min(Block, S - start), center);
            // Deviations were taken about the float-rounded mean: remove the (tiny) S·(center − mean)² they add.
            double offset = center - planeMean;
            pass->Partials[2 * plane] = planeMean;
            pass->Partials[2 * plane + 1] = Math.Max(squares - S * offset * offset, 0);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float BlockSum<TV, TS>(float* x, int length) where TV : struct where TS : IElementwiseSimd<TV>
    {
        TV acc0 = TS.Zero, acc1 = TS.Zero;
        int i = 0;
        for (; i <= length - 2 * TS.Count; i += 2 * TS.Count)
        {
            acc0 = TS.Add(acc0, TS.Load(x + i));
            acc1 = TS.Add(acc1, TS.Load(x + i + TS.Count));
        }
        if (i <= length - TS.Count)
        {
            acc0 = TS.Add(acc0, TS.Load(x + i));
            i += TS.Count;
        }
        float sum = TS.Sum(TS.Add(acc0, acc1));
        for (; i < length; i++)
            sum += x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float BlockSquaredDeviations<TV, TS>(float* x, int length, float center)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        TV acc0 = TS.Zero, acc1 = TS.Zero, m = TS.Splat(center);
        int i = 0;
        for (; i <= length - 2 * TS.Count; i += 2 * TS.Count)
        {
            var d0 = TS.Subtract(TS.Load(x + i), m);
            var d1 = TS.Subtract(TS.Load(x + i + TS.Count), m);
            acc0 = TS.MultiplyAdd(d0, d0, acc0);
            acc1 = TS.MultiplyAdd(d1, d1, acc1);
        }
        if (i <= length - TS.Count)
        {
            var d = TS.Subtract(TS.Load(x + i), m);
            acc0 = TS.MultiplyAdd(d, d, acc0);
            i += TS.Count;
        }
        float sum = TS.Sum(TS.Add(acc0, acc1));
        for (; i < length; i++)
        {
            float d = x[i] - center;
            sum += d * d;
        }
        return sum;
    }

    // ---- normalisation ----

    /// <summary>The per-channel map y = (x − mean)·scale + beta, scale = gamma·invStd (from running variance in
    /// evaluation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ChannelMap(Pass* pass, int c, out float mean, out float scale, out float beta)
    {
        float inv = pass->Inference ? (float)(1 / Math.Sqrt((double)pass->RunningVar[c] + pass->Eps)) : pass->InvStd[c];
        mean = pass->Mean[c];
        scale = pass->Gamma[c] * inv;
        beta = pass->Beta[c];
    }

    private static void NormalizePart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int S = pass->Spatial;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            ChannelMap(pass, plane % pass->Channels, out float mean, out float scale, out float beta);
            var map = new NormalizeMap<TV, TS>(mean, scale, beta);
            float* x = pass->Input + (long)plane * S, y = pass->Output + (long)plane * S;
            int i = 0;
            for (; i <= S - TS.Count; i += TS.Count)
                TS.Store(y + i, map.Apply(TS.Load(x + i)));
            for (; i < S; i++)
                y[i] = map.Apply(x[i]);
        }
    }

    private static void RunNormalizeReLUPool(Pass* pass, int parts, int outWidth)
    {
        switch (ElementwiseSimd.WidthFor(outWidth))
        {
            case 512: Workers.Run(parts, pass, &NormalizeReLUPoolPart<Vector512<float>, ElementwiseSimd512>); break;
            case 256: Workers.Run(parts, pass, &NormalizeReLUPoolPart<Vector256<float>, ElementwiseSimd256>); break;
            default: Workers.Run(parts, pass, &NormalizeReLUPoolPart<Vector128<float>, ElementwiseSimd128>); break;
        }
    }

    private static void NormalizeReLUPoolPart<TV, TS>(void* state, int part)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int S = pass->Spatial, pooledPlane = pass->Pool.OutHeight * pass->Pool.OutWidth;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            ChannelMap(pass, plane % pass->Channels, out float mean, out float scale, out float beta);
            MaxPool2d.PoolPlane<TV, TS, NormalizeReLUMap<TV, TS>>(pass->Input + (long)plane * S, plane * S, pass->Pool,
                pass->Pooled + (long)plane * pooledPlane, pass->Argmax + (long)plane * pooledPlane,
                new NormalizeReLUMap<TV, TS>(mean, scale, beta));
        }
    }

    /// <summary>
    /// (x − mean)·scale + beta with one rounding in the multiply-add, identical in lanes and in the scalar tail. Holds
    /// only the three floats (broadcast where used): a struct of vectors passed into the pooling loop was not kept in
    /// registers and made the fused kernel several times slower.
    /// </summary>
    private readonly struct NormalizeMap<TV, TS>(float mean, float scale, float beta) : IElementwiseTransform<TV>
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        private readonly float _mean = mean, _scale = scale, _beta = beta;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Apply(TV value) =>
            TS.MultiplyAdd(TS.Subtract(value, TS.Splat(_mean)), TS.Splat(_scale), TS.Splat(_beta));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Apply(float value) => MathF.FusedMultiplyAdd(value - _mean, _scale, _beta);
    }

    /// <summary>The normalisation followed by ReLU exactly as <see cref="ReLU.Forward"/> computes it.</summary>
    private readonly struct NormalizeReLUMap<TV, TS>(float mean, float scale, float beta) : IElementwiseTransform<TV>
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        private readonly float _mean = mean, _scale = scale, _beta = beta;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Apply(TV value)
        {
            var y = TS.MultiplyAdd(TS.Subtract(value, TS.Splat(_mean)), TS.Splat(_scale), TS.Splat(_beta));
            return TS.Select(TS.LessThan(y, TS.Zero), TS.Zero, y);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Apply(float value) => ReLU.Apply(MathF.FusedMultiplyAdd(value - _mean, _scale, _beta));
    }

    // ---- backward ----

    private static void GradientSumsPart<TV, TS>(void* state, int part)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int S = pass->Spatial;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            float* x = pass->Input + (long)plane * S, dy = pass->OutputGrad + (long)plane * S;
            float mean = pass->Mean[plane % pass->Channels];
            var m = TS.Splat(mean);
            double sumDy = 0, sumDyCentered = 0;
            for (int start = 0; start < S; start += Block)
            {
                int length = Math.Min(Block, S - start);
                TV accDy = TS.Zero, accDyCentered = TS.Zero;
                int i = start;
                for (; i <= start + length - TS.Count; i += TS.Count)
                {
                    var g = TS.Load(dy + i);
                    accDy = TS.Add(accDy, g);
                    accDyCentered = TS.MultiplyAdd(g, TS.Subtract(TS.Load(x + i), m), accDyCentered);
                }
                float blockDy = TS.Sum(accDy), blockDyCentered = TS.Sum(accDyCentered);
                for (; i < start + length; i++)
                {
                    blockDy += dy[i];
                    blockDyCentered += dy[i] * (x[i] - mean);
                }
                sumDy += blockDy;
                sumDyCentered += blockDyCentered;
            }
            pass->Partials[2 * plane] = sumDy;
            pass->Partials[2 * plane + 1] = sumDyCentered;
        }
    }

    private static void PooledGradientSumsPart(void* state, int part)
    {
        var pass = (Pass*)state;
        int S = pass->Spatial, C = pass->Channels, pooledPlane = pass->Pool.OutHeight * pass->Pool.OutWidth;
        float* x = pass->Input, pooled = pass->Pooled, pooledGrad = pass->PooledGrad, mean = pass->Mean;
        int* argmax = pass->Argmax;
        double* partials = pass->Partials;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            float mu = mean[plane % C];
            // One plane's winners: at most S/4 terms, summed in four interleaved chains so that the adds do not wait
            // on each other (one chain is bound by the add latency); the chains are combined in a fixed order.
            float sumDy0 = 0, sumDy1 = 0, sumDy2 = 0, sumDy3 = 0, centered0 = 0, centered1 = 0, centered2 = 0,
                centered3 = 0;
            int first = plane * S, o = plane * pooledPlane, end4 = o + (pooledPlane & ~3),
                last = (plane + 1) * pooledPlane;
            if (pass->Gather)
            {
                // The four chains as the four lanes of a vector: the same operations on the same values in the same
                // order.
                Vector128<float> sums = Vector128<float>.Zero, centered = Vector128<float>.Zero,
                    vMu = Vector128.Create(mu);
                Vector128<int> low = Vector128.Create(first), span = Vector128.Create(S);
                for (; o < end4; o += 4)
                {
                    var index = Vector128.Load(argmax + o);
                    // Unsigned (index − first) < S in every lane, as CheckedArgmax requires of each.
                    if (!Vector128.LessThanAll((index - low).AsUInt32(), span.AsUInt32()))
                        for (int j = 0; j < 4; j++) CheckedArgmax(argmax, o + j, first, S, plane);
                    var keep = Vector128.GreaterThan(Vector128.Load(pooled + o), Vector128<float>.Zero);
                    var g = Vector128.Load(pooledGrad + o) & keep;
                    sums += g;
                    centered = Fma.MultiplyAdd(g, Avx2.GatherVector128(x, index, 4) - vMu, centered);
                }
                (sumDy0, sumDy1, sumDy2, sumDy3) = (sums[0], sums[1], sums[2], sums[3]);
                (centered0, centered1, centered2, centered3) = (centered[0], centered[1], centered[2], centered[3]);
            }
            for (; o < end4; o += 4)
            {
                float g0 = PassedGradient(pooled[o], pooledGrad[o]),
                    g1 = PassedGradient(pooled[o + 1], pooledGrad[o + 1]);
                float g2 = PassedGradient(pooled[o + 2], pooledGrad[o + 2]),
                    g3 = PassedGradient(pooled[o + 3], pooledGrad[o + 3]);
                sumDy0 += g0; sumDy1 += g1; sumDy2 += g2; sumDy3 += g3;
                centered0 = MathF.FusedMultiplyAdd(g0, x[CheckedArgmax(argmax, o, first, S, plane)] - mu, centered0);
                centered1 = MathF.FusedMultiplyAdd(g1, x[CheckedArgmax(argmax, o + 1, first, S, plane)] - mu,
                    centered1);
                centered2 = MathF.FusedMultiplyAdd(g2, x[CheckedArgmax(argmax, o + 2, first, S, plane)] - mu,
                    centered2);
                centered3 = MathF.FusedMultiplyAdd(g3, x[CheckedArgmax(argmax, o + 3, first, S, plane)] - mu,
                    centered3);
            }
            for (; o < last; o++)
            {
                float g = PassedGradient(pooled[o], pooledGrad[o]);
                sumDy0 += g;
                centered0 = MathF.FusedMultiplyAdd(g, x[CheckedArgmax(argmax, o, first, S, plane)] - mu, centered0);
            }
            partials[2 * plane] = (sumDy0 + sumDy1) + (sumDy2 + sumDy3);
            partials[2 * plane + 1] = (centered0 + centered1) + (centered2 + centered3);
        }
    }

    /// <summary>
    /// The gradient ReLU lets through at a window's winner: pooledGrad where the pooled output is positive, else
    /// exactly 0 (even for a NaN gradient, as the Reference's masked add). Branch-free: the sign is random, so a branch
    /// mispredicts half the time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float PassedGradient(float pooled, float pooledGrad)
    {
        int keep = -(int)Unsafe.BitCast<bool, byte>(pooled > 0); // all ones or zero
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(pooledGrad) & keep);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CheckedArgmax(int* argmax, int o, int first, int planeLength, int plane)
    {
        int i = argmax[o];
        if ((uint)(i - first) >= (uint)planeLength)
            throw new ArgumentException(
                $"argmax[{o}] = {i} is outside input plane {plane}; pass the argmax that forward wrote.",
                nameof(argmax));
        return i;
    }

    /// <summary>
    /// Merges the per-plane gradient sums per channel in plane order, accumulates gammaGrad and betaGrad, and leaves
    /// per channel: scale = gamma·invStd, the input coefficient −scale·invStd·mean(dy·x̂) and the constant
    /// −scale·mean(dy).
    /// </summary>
    private static void BackwardCoefficients(Pass* pass, int batch, float* gammaGrad, float* betaGrad)
    {
        int C = pass->Channels;
        double count = (double)batch * pass->Spatial;
        for (int c = 0; c < C; c++)
        {
            double sumDy = 0, sumDyCentered = 0;
            for (int n = 0; n < batch; n++)
            {
                sumDy += pass->Partials[2 * (n * C + c)];
                sumDyCentered += pass->Partials[2 * (n * C + c) + 1];
            }
            double inv = pass->InvStd[c];
            double sumDyXhat = sumDyCentered * inv;
            gammaGrad[c] += (float)sumDyXhat;
            betaGrad[c] += (float)sumDy;
            double scale = pass->Gamma[c] * inv;
            pass->Channel[3 * c] = scale;
            pass->Channel[3 * c + 1] = -scale * inv * (sumDyXhat / count);
            pass->Channel[3 * c + 2] = -scale * (sumDy / count);
        }
    }

    private static void InputGradPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int S = pass->Spatial;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            int c = plane % pass->Channels;
            float mean = pass->Mean[c];
            float scale = (float)pass->Channel[3 * c], slope = (float)pass->Channel[3 * c + 1],
                constant = (float)pass->Channel[3 * c + 2];
            TV m = TS.Splat(mean), vScale = TS.Splat(scale), vSlope = TS.Splat(slope), vConstant = TS.Splat(constant);
            float* x = pass->Input + (long)plane * S, dy = pass->OutputGrad + (long)plane * S,
                dx = pass->InputGrad + (long)plane * S;
            int i = 0;
            for (; i <= S - TS.Count; i += TS.Count)
            {
                var t = TS.MultiplyAdd(TS.Subtract(TS.Load(x + i), m), vSlope,
                    TS.MultiplyAdd(TS.Load(dy + i), vScale, vConstant));
                TS.Store(dx + i, TS.Add(TS.Load(dx + i), t));
            }
            for (; i < S; i++)
                dx[i] += MathF.FusedMultiplyAdd(x[i] - mean, slope, MathF.FusedMultiplyAdd(dy[i], scale, constant));
        }
    }

    private static void PooledInputGradPart<TV, TS>(void* state, int part)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int S = pass->Spatial, pooledPlane = pass->Pool.OutHeight * pass->Pool.OutWidth;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            int c = plane % pass->Channels;
            float mean = pass->Mean[c];
            float scale = (float)pass->Channel[3 * c], slope = (float)pass->Channel[3 * c + 1],
                constant = (float)pass->Channel[3 * c + 2];
            TV m = TS.Splat(mean), vSlope = TS.Splat(slope), vConstant = TS.Splat(constant);
            float* x = pass->Input + (long)plane * S, dx = pass->InputGrad + (long)plane * S;
            // Every position: the mean terms, an affine map of the input (written over dx, or added to it).
            int i = 0;
            if (pass->Overwrite)
            {
                for (; i <= S - TS.Count; i += TS.Count)
                    TS.Store(dx + i, TS.MultiplyAdd(TS.Subtract(TS.Load(x + i), m), vSlope, vConstant));
                for (; i < S; i++)
                    dx[i] = MathF.FusedMultiplyAdd(x[i] - mean, slope, constant);
            }
            else
            {
                for (; i <= S - TS.Count; i += TS.Count)
                    TS.Store(dx + i,
                        TS.Add(TS.Load(dx + i), TS.MultiplyAdd(TS.Subtract(TS.Load(x + i), m), vSlope, vConstant)));
                for (; i < S; i++)
                    dx[i] += MathF.FusedMultiplyAdd(x[i] - mean, slope, constant);
            }
            // Positions that won their window with a positive output: the direct term scale·dy.
            switch (pass->DirectWidth)
            {
                case 512: DirectTerm<Vector512<float>, ElementwiseSimd512>(pass, plane, scale); break;
                case 256: DirectTerm<Vector256<float>, ElementwiseSimd256>(pass, plane, scale); break;
                case 128: DirectTerm<Vector128<float>, ElementwiseSimd128>(pass, plane, scale); break;
                default: DirectTermScalar(pass, plane, scale, 0, pooledPlane); break;
            }
        }
    }

    /// <summary>Set on a thread, its backward passes use the scalar direct term (tests compare the two).</summary>
    [ThreadStatic] internal static bool ScalarDirectTerm;

    /// <summary>The widest width whose lanes fit in a pooled row of at least 8, for 2×2 windows of stride 2; else 0
    /// (the scalar loop).</summary>
    private static int DirectTermWidth(in PoolShape shape)
    {
        // Below 8 outputs a row (bn2's 5) the overlapping vectors and the row's checks cost more than the scatter.
        if (ScalarDirectTerm || shape.Kernel != 2 || shape.Stride != 2 || shape.OutWidth < 8) return 0;
        return ElementwiseSimd.WidthFor(shape.OutWidth);
    }

    /// <summary>inputGrad[argmax[o]] += scale · (pooled[o] &gt; 0 ? pooledGrad[o] : 0) for the outputs
    /// <paramref name="from"/> to <paramref name="to"/> (exclusive) of <paramref name="plane"/>, in order.</summary>
    private static void DirectTermScalar(Pass* pass, int plane, float scale, int from, int to)
    {
        int S = pass->Spatial, pooledFirst = plane * pass->Pool.OutHeight * pass->Pool.OutWidth, first = plane * S;
        float* pooled = pass->Pooled, pooledGrad = pass->PooledGrad, inputGrad = pass->InputGrad;
        int* argmax = pass->Argmax;
        for (int o = pooledFirst + from; o < pooledFirst + to; o++)
            inputGrad[CheckedArgmax(argmax, o, first, S, plane)] += scale * PassedGradient(pooled[o], pooledGrad[o]);
    }

    /// <summary>
    /// <see cref="DirectTermScalar"/> for 2×2 windows of stride 2, TS.Count pooled outputs at a time: each output's
    /// winner is one of four positions of its window, so the four position masks, interleaved, select which of the
    /// window's two input rows' positions add scale·dy; no scatter. The same additions in the same order as the scalar
    /// loop, so the same bits. A row's last vector overlaps the one before it, its repeated lanes masked off. From a
    /// vector with an argmax outside its own window (never so for forward's) the row's rest is left to the scalar loop,
    /// which refuses one outside the plane.
    /// </summary>
    private static void DirectTerm<TV, TS>(Pass* pass, int plane, float scale)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        int W = pass->Pool.Width, pooledHeight = pass->Pool.OutHeight, pooledWidth = pass->Pool.OutWidth;
        int count = TS.Count;
        int first = plane * pass->Spatial, pooledFirst = plane * pooledHeight * pooledWidth;
        TV vScale = TS.Splat(scale), one = TS.SplatInt32(1), down = TS.SplatInt32(W), downRight = TS.SplatInt32(W + 1);
        for (int i = 0; i < pooledHeight; i++)
        {
            // corner: the input index of window (i, 0)'s top-left position.
            int row = i * pooledWidth, corner = first + 2 * i * W;
            int* argmax = pass->Argmax + pooledFirst + row;
            float* pooled = pass->Pooled + pooledFirst + row, pooledGrad = pass->PooledGrad + pooledFirst + row;
            float* top = pass->InputGrad + corner, bottom = top + W;
            for (int j = 0, done = 0; ; j += count)
            {
                if (j > pooledWidth - count) j = pooledWidth - count;
                TV a = TS.LoadInt32(argmax + j), topLeft = TS.SequenceInt32(corner + 2 * j, 2);
                TV topLeftWins = TS.EqualsInt32(a, topLeft);
                TV topRightWins = TS.EqualsInt32(a, TS.AddInt32(topLeft, one));
                TV bottomLeftWins = TS.EqualsInt32(a, TS.AddInt32(topLeft, down));
                TV bottomRightWins = TS.EqualsInt32(a, TS.AddInt32(topLeft, downRight));
                if (!TS.All(TS.Or(TS.Or(topLeftWins, topRightWins), TS.Or(bottomLeftWins, bottomRightWins))))
                {
                    DirectTermScalar(pass, plane, scale, row + done, row + pooledWidth);
                    break;
                }
                TV fresh = TS.LanesFrom(done - j); // lanes an overlapping last vector repeats are off
                TV passed = TS.Select(TS.GreaterThan(TS.Load(pooled + j), TS.Zero), TS.Load(pooledGrad + j), TS.Zero);
                TV add = TS.Multiply(vScale, passed);
                TS.Interleave(add, add, out var addLo, out var addHi);
                TS.Interleave(TS.Select(fresh, topLeftWins, TS.Zero), TS.Select(fresh, topRightWins, TS.Zero),
                    out var topLo, out var topHi);
                TS.Interleave(TS.Select(fresh, bottomLeftWins, TS.Zero), TS.Select(fresh, bottomRightWins, TS.Zero),
                    out var bottomLo, out var bottomHi);
                AddWhere<TV, TS>(top + 2 * j, topLo, topHi, addLo, addHi);
                AddWhere<TV, TS>(bottom + 2 * j, bottomLo, bottomHi, addLo, addHi);
                done = j + count;
                if (j == pooledWidth - count) break;
            }
        }
    }

    /// <summary>row[k] += add[k] where mask[k], over two vectors; other positions keep their bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddWhere<TV, TS>(float* row, TV maskLo, TV maskHi, TV addLo, TV addHi)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        TV lo = TS.Load(row), hi = TS.Load(row + TS.Count);
        TS.Store(row, TS.Select(maskLo, TS.Add(lo, addLo), lo));
        TS.Store(row + TS.Count, TS.Select(maskHi, TS.Add(hi, addHi), hi));
    }

    // ---- checks ----

    private static void RequireChannels(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c,
        ReadOnlySpan<float> d, ReadOnlySpan<float> e, ReadOnlySpan<float> f, in BatchNormShape shape,
        [CallerArgumentExpression(nameof(a))] string aName = "",
        [CallerArgumentExpression(nameof(b))] string bName = "",
        [CallerArgumentExpression(nameof(c))] string cName = "",
        [CallerArgumentExpression(nameof(d))] string dName = "",
        [CallerArgumentExpression(nameof(e))] string eName = "",
        [CallerArgumentExpression(nameof(f))] string fName = "")
    {
        SpanLength.Require(a.Length, shape.Channels, aName, shape);
        SpanLength.Require(b.Length, shape.Channels, bName, shape);
        SpanLength.Require(c.Length, shape.Channels, cName, shape);
        SpanLength.Require(d.Length, shape.Channels, dName, shape);
        SpanLength.Require(e.Length, shape.Channels, eName, shape);
        SpanLength.Require(f.Length, shape.Channels, fName, shape);
    }

    private static void Validate(in BatchNormShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Spatial < 1)
            throw new ArgumentException($"{shape} is not a valid batch-norm shape: all sizes must be positive.",
                nameof(shape));
    }

    private static void ValidateTraining(in BatchNormShape shape)
    {
        Validate(shape);
        if (shape.CountPerChannel < 2)
            throw new ArgumentException(
                $"{shape} has one value per channel; training batch normalisation needs more than one (the unbiased " +
                    "variance divides by n − 1).",
                nameof(shape));
    }

    private static BatchNormShape ValidateFused(in PoolShape shape)
    {
        MaxPool2d.Validate(shape);
        if (shape.Stride != shape.Kernel)
            throw new ArgumentException(
                $"{shape}: the fused BatchNorm–ReLU–max-pool kernels need non-overlapping windows (stride = kernel).",
                nameof(shape));
        return new BatchNormShape(shape.Batch, shape.Channels, shape.Height * shape.Width);
    }
}
