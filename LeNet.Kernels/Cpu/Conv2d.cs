using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static LeNet.Kernels.Cpu.SimdVector;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// 2-D convolution, NCHW, images split across the workers. Forward at stride 1 reads the zero-padded image in place
/// (no im2col), on the engine that wastes less (<see cref="Plan{TV}"/>): output channels in the vector lanes with
/// positions broadcast (<see cref="ConvLanes"/>), or output channels in the rows of a GEMM micro-tile with positions in
/// the lanes (NR consecutive positions of the padded image, <see cref="Gemm.MicroKernel{TV}"/>, or two output rows of
/// one vector each, <see cref="RowsImage{TV}"/>), both skipping the kernel rows that fall on zero padding;
/// other strides use im2col. The input gradient at stride 1 is the same convolution of the output gradient as a full
/// correlation (flipped, channel-swapped weight), else col2im(Wᵀ·dOut_n). The weight gradient sums every tap over the
/// output positions, with the output channels in the lanes (<see cref="ConvLanes.TapsTile"/>) or, at stride 1 with
/// few channels, in rows with the positions in the lanes (<see cref="ConvRows.TapsTile"/>), over fixed parts of
/// <see cref="ImagesPerPart"/> images, the parts added in order.
/// </summary>
public static unsafe partial class Conv2d
{
    /// <summary>Images per part of a batch reduction: fixed, so the summation order never depends on the thread
    /// count.</summary>
    internal const int ImagesPerPart = 8;

    /// <summary>output[n,k,p,q] = bias[k] + Σ_{c,r,s} input[n,c,p·stride+r−pad, q·stride+s−pad] · weight[k,c,r,s].
    /// Overwrites output. An empty bias means none.</summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: Forward<Vector512<float>>(input, weight, bias, output, shape); break;
            case 256: Forward<Vector256<float>>(input, weight, bias, output, shape); break;
            default: Forward<Vector128<float>>(input, weight, bias, output, shape); break;
        }
    }

    /// <summary>inputGrad += ∂L/∂input given outputGrad [N,K,P,Q] and weight [K,C,R,S].</summary>
    public static void BackwardInput(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight, Span<float> inputGrad,
        in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardInput<Vector512<float>>(outputGrad, weight, inputGrad, shape); break;
            case 256: BackwardInput<Vector256<float>>(outputGrad, weight, inputGrad, shape); break;
            default: BackwardInput<Vector128<float>>(outputGrad, weight, inputGrad, shape); break;
        }
    }

    /// <summary>weightGrad += ∂L/∂weight given input [N,C,H,W] and outputGrad [N,K,P,Q].</summary>
    public static void BackwardWeight(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> weightGrad,
        in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardWeight<Vector512<float>>(input, outputGrad, weightGrad, shape); break;
            case 256: BackwardWeight<Vector256<float>>(input, outputGrad, weightGrad, shape); break;
            default: BackwardWeight<Vector128<float>>(input, outputGrad, weightGrad, shape); break;
        }
    }

    /// <summary>biasGrad[k] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public static void BackwardBias(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in ConvShape shape)
    {
        switch (Dispatch)
        {
            case 512: BackwardBias<Vector512<float>>(outputGrad, biasGrad, shape); break;
            case 256: BackwardBias<Vector256<float>>(outputGrad, biasGrad, shape); break;
            default: BackwardBias<Vector128<float>>(outputGrad, biasGrad, shape); break;
        }
    }

    /// <summary>How a convolution is computed: chosen by <see cref="Plan{TV}"/>, or forced by the tests.</summary>
    internal enum Engine
    {
        /// <summary>The one that spends the larger share of its multiply-adds on wanted outputs.</summary>
        Auto,
        /// <summary>Stride 1: the packed GEMM with B read in place from the padded image (output channels in MR
        /// rows).</summary>
        Gemm,
        /// <summary>Stride 1: <see cref="ConvLanes"/>, output channels in the vector lanes, positions
        /// broadcast.</summary>
        Lanes,
        /// <summary>Any stride: im2col (forward) or col2im (input gradient) around the packed GEMM.</summary>
        Im2Col,
        /// <summary>Stride 1: <see cref="Gemm.MicroKernel{TV}"/> with output channels in MR rows and two output rows of
        /// one vector of positions each.</summary>
        Rows,
    }

    /// <summary>What a part needs: the shape and the pinned spans of one kernel call.</summary>
    private struct State
    {
        public ConvShape Shape;
        public float* Input, Weight, Bias, Output, Partials;
        public Implicit Conv;
        public int LaneWidth, LaneVectors;
    }

    /// <summary>
    /// A stride-1 convolution of one image [Channels, Height, Width], zero-padded by PadH rows and PadW columns, with
    /// R×S taps, into [OutChannels, OutHeight, OutWidth]: the forward pass, and the input gradient as a full
    /// correlation.
    /// </summary>
    private struct Implicit
    {
        public int Channels, Height, Width, PadH, PadW, R, S, OutChannels;
        public float* Panels;   // [OutChannels, Taps] with taps in (r, c, s) order, packed in panels of Gemm.MR rows
                                // (Gemm.PackA), for the GEMM engine
        public float* Packed;   // [Taps, PackedLd] in (r, c, s) order, the weight transposed, lanes past OutChannels
                                // zero, for the lanes engine
        public float* Bias;     // null for none
        public int PackedLd, LaneWidth, LaneVectors, TileRows;
        public bool Lanes, Rows, Accumulate;
        // The lanes engine writes its tiles as they are, [K / block][P][Q][block] (channels last, no bias), for the
        // evaluation block to pool from (Conv2d.BatchNormReLUMaxPool.cs).
        public bool ChannelsLast;
        // The GEMM engine returns its result [K, P, Wp] (no bias) as it left it in the thread's scratch instead of
        // compacting it into the output, for the evaluation block to pool from in place.
        public bool KeepWide;
        public readonly int OutHeight => Height + 2 * PadH - R + 1;
        public readonly int OutWidth => Width + 2 * PadW - S + 1;
        public readonly int Taps => Channels * R * S;

        /// <summary>The kernel rows r that output row p reads from inside the image (not from zero padding):
        /// low ..= high.</summary>
        public readonly (int Low, int High) TapRows(int p) =>
            (Math.Max(0, PadH - p), Math.Min(R - 1, PadH + Height - 1 - p));
    }

    // Per-thread scratch: the im2col matrix of one image or its gradient, and the GEMM engine's wide output.
    [ThreadStatic] private static float[]? _col;
    // The caller's per-part partial sums of a reduction, and its packed weights (only the calling thread of a kernel
    // uses these).
    [ThreadStatic] private static float[]? _partials, _packedWeight, _weightPanels;
    // Per-thread scratch: zero-padded images, the row offsets of the kernel taps, transposed output gradients.
    [ThreadStatic] private static float[]? _paddedImage, _tapOffsets, _outputGradRows;
    // Per thread: a zero-padded image whose zeros are kept from one image to the next (only its interior is
    // rewritten) while the geometry it was cleared for, held beside it, stays the same.
    [ThreadStatic] private static float[]? _borderedImage;
    [ThreadStatic] private static (float[]? Buffer, int C, int H, int W, int PadH, int PadW, int Slack) _borderedFor;
    // The shape whose tap offsets _tapOffsets holds (default: none), so that the images of a loop compute them once.
    [ThreadStatic] private static (int C, int R, int S, int Plane, int Wp, bool RowsFirst) _tapOffsetsShape;

    /// <summary>
    /// Vector lanes for <paramref name="channels"/> channels at width TV: the width (TV's or half of it) and the
    /// vectors per tile (1 or 2) that waste the fewest lanes, and the share of lanes that hold a channel.
    /// </summary>
    private static (int Width, int Vectors, int Padded, double Share) LaneLayout<TV>(int channels) where TV : struct
    {
        int full = Count<TV>();
        (int, int, int, double) best = default;
        // The full width, then half of it (a loop over two values rather than an array: this runs on every call).
        for (int width = full, half = 0; half < 2; width /= 2, half++)
        {
            if (width < 4) continue;
            int vectors = channels > width ? 2 : 1, padded = RoundUp(channels, vectors * width);
            // Below 8 lanes a vector costs as much as one of 8 where wider ones exist.
            double share = (double)channels / padded * (width < 8 && full > 4 ? 0.5 : 1);
            if (share > best.Item4 + 1e-9) best = (width, vectors, padded, share);
        }
        return best;
    }

    private static int RoundUp(int value, int multiple) => Gemm.RoundUp(value, multiple);

    /// <summary>Chooses the engine of a stride-1 convolution and, for the lanes engine, its layout.</summary>
    private static void Plan<TV>(ref Implicit conv, Engine engine) where TV : struct
    {
        int Q = conv.OutWidth, Wp = conv.Width + 2 * conv.PadW, positions = conv.OutHeight * Wp, nr = 2 * Count<TV>();
        // Multiply-adds per image. The GEMM computes the dropped columns q ≥ Q and pads positions to NR and channels
        // to MR, and a tile of NR positions skips only the kernel rows that fall on zero padding for all its output
        // rows; the lanes engine computes the wanted positions only and skips the taps that fall on zero padding rows
        // per output row, but pads the channels to whole vectors.
        long gemmTapRows = 0;
        for (int j0 = 0; j0 < positions; j0 += nr)
        {
            int low = conv.TapRows(Math.Min(conv.OutHeight - 1, (Math.Min(positions, j0 + nr) - 1) / Wp)).Low,
                high = conv.TapRows(j0 / Wp).High;
            gemmTapRows += Math.Max(0, high - low + 1);
        }
        double gemm = (double)RoundUp(conv.OutChannels, Gemm.MR) * nr * gemmTapRows * conv.Channels * conv.S;
        var (width, vectors, padded, share) = LaneLayout<TV>(conv.OutChannels);
        int rows = ConvLanes.TileRows(Q, vectors == 2 ? ConvLanes.MaxRowsTwoVectors : ConvLanes.MaxRows);
        long tapRows = 0;
        for (int p = 0; p < conv.OutHeight; p++)
        {
            var (low, high) = conv.TapRows(p);
            tapRows += Math.Max(0, high - low + 1);
        }
        // Fewer than 8 accumulators cannot hide the multiply-add latency.
        double lanes = conv.OutChannels / share * Q * tapRows * conv.Channels * conv.S /
            Math.Min(1.0, rows * vectors / 8.0);
        // Rows: output rows in pairs, each pair reading the kernel rows either of them reads inside the image.
        long pairTapRows = 0;
        for (int p = 0; p < conv.OutHeight; p += 2)
        {
            int low = conv.TapRows(Math.Min(conv.OutHeight - 1, p + 1)).Low, high = conv.TapRows(p).High;
            pairTapRows += Math.Max(0, high - low + 1);
        }
        double rowsCost = (double)RoundUp(conv.OutChannels, Gemm.MR) * 2 * RoundUp(Q, Count<TV>()) * pairTapRows *
            conv.Channels * conv.S;
        conv.Rows = engine == Engine.Rows || (engine == Engine.Auto && rowsCost < Math.Min(lanes, gemm));
        conv.Lanes = !conv.Rows && (engine == Engine.Lanes || (engine == Engine.Auto && lanes <= gemm));
        conv.LaneWidth = width;
        conv.LaneVectors = vectors;
        conv.PackedLd = padded;
        conv.TileRows = rows;
    }

    internal static void Forward<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in ConvShape shape)
        where TV : struct => Forward<TV>(input, weight, bias, output, shape, Engine.Auto);

    internal static void Forward<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in ConvShape shape, Engine engine) where TV : struct
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(bias.Length, shape.OutChannels, nameof(bias), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        fixed (float* x = input, w = weight, b = bias, y = output)
        {
            var state = new State { Shape = shape, Input = x, Weight = w, Bias = bias.IsEmpty ? null : b, Output = y };
            if (shape.Stride != 1 || engine == Engine.Im2Col)
            {
                Workers.Run(shape.Batch, &state, &ForwardImageIm2Col<TV>);
                return;
            }
            PrepareImplicit<TV>(ref state, w, engine);
            Workers.Run(shape.Batch, &state, &ImplicitImage<TV>);
        }
    }

    /// <summary>Stride 1: plans the engine of state's convolution and packs <paramref name="w"/> [K, C, R, S] for it
    /// (caller's scratch).</summary>
    private static void PrepareImplicit<TV>(ref State state, float* w, Engine engine) where TV : struct
    {
        ref readonly var shape = ref state.Shape;
        int K = shape.OutChannels, taps = shape.InChannels * shape.KernelHeight * shape.KernelWidth;
        state.Conv = new Implicit
        {
            Channels = shape.InChannels, Height = shape.Height, Width = shape.Width, PadH = shape.Padding,
            PadW = shape.Padding, R = shape.KernelHeight, S = shape.KernelWidth, OutChannels = K, Bias = state.Bias,
        };
        Plan<TV>(ref state.Conv, engine);
        if (!state.Conv.Lanes)
        {
            // weightRcs[k, (r·C + c)·S + s] = weight[k, c, r, s]
            int C = shape.InChannels, R = shape.KernelHeight, S = shape.KernelWidth;
            float* weightRcs = GemmScratch.Get(ref _packedWeight, K * taps);
            for (int k = 0; k < K; k++)
            for (int r = 0, tap = 0; r < R; r++)
            for (int c = 0; c < C; c++)
            for (int t = 0; t < S; t++, tap++)
                weightRcs[(nint)k * taps + tap] = w[(((nint)k * C + c) * R + r) * S + t];
            state.Conv.Panels = PackPanels(weightRcs, K, taps);
        }
        else
        {
            // packed[(r·C + c)·S + s, k] = weight[k, c, r, s]
            int ld = state.Conv.PackedLd, C = shape.InChannels, R = shape.KernelHeight, S = shape.KernelWidth;
            float* packed = GemmScratch.Get(ref _packedWeight, taps * ld);
            for (int r = 0, tap = 0; r < R; r++)
            for (int c = 0; c < C; c++)
            for (int t = 0; t < S; t++, tap++)
            {
                float* row = packed + (nint)tap * ld;
                for (int k = 0; k < K; k++) row[k] = w[(((nint)k * C + c) * R + r) * S + t];
                for (int k = K; k < ld; k++) row[k] = 0;
            }
            state.Conv.Packed = packed;
        }
    }

    /// <summary>
    /// Stride 1, one image: with the image zero-padded to [C, Hp, Wp], output position p·Wp + q reads tap (c, r, s) at
    /// c·Hp·Wp + r·Wp + s + p·Wp + q, so nothing is gathered. The GEMM engine computes the positions q ≥ Q too and
    /// drops them when it compacts its result into the output; the lanes engine computes only wanted positions.
    /// </summary>
    private static void ImplicitImage<TV>(void* raw, int n) where TV : struct
    {
        var s = (State*)raw;
        ImplicitImage<TV>(s, n, s->Output + (nint)n * s->Conv.OutChannels * s->Conv.OutHeight * s->Conv.OutWidth);
    }

    /// <summary>
    /// Image n of state's stride-1 convolution into output [K, P, Q]; returns output, or with KeepWide the GEMM
    /// engine's rows as they are ([K, P, Wp], the columns past Q unused, no bias), which output is then not given.
    /// </summary>
    private static float* ImplicitImage<TV>(State* s, int n, float* output) where TV : struct
    {
        ref readonly var conv = ref s->Conv;
        int C = conv.Channels, H = conv.Height, W = conv.Width, R = conv.R, S = conv.S, K = conv.OutChannels;
        int P = conv.OutHeight, Q = conv.OutWidth, padH = conv.PadH, padW = conv.PadW, Hp = H + 2 * padH,
            Wp = W + 2 * padW, plane = Hp * Wp;
        int taps = conv.Taps, positions = P * Wp, nr = 2 * Count<TV>();
        // The GEMM reads B rows up to RoundUp(positions, NR): past the padded image by at most S + NR, kept zero; the
        // rows engine reads one row past the last output row's, up to RoundUp(Q, NR / 2): at most S + Wp + NR.
        int imageLength = C * plane, slack = S + Wp + nr;
        float* image;
        if (padH == 0 && padW == 0)
        {
            image = GemmScratch.Get(ref _paddedImage, imageLength + slack);
            PadImage<TV>(s->Input + (nint)n * C * H * W, image, C, H, W, 0, 0);
            new Span<float>(image + imageLength, slack).Clear();
        }
        else image = BorderedImage<TV>(s->Input + (nint)n * C * H * W, C, H, W, padH, padW, slack);

        // Taps in (r, c, s) order, so that the kernel rows that read inside the image are one run of taps.
        int* offsets = TapOffsets(C, R, S, plane, Wp, rowsFirst: true);

        if (conv.Lanes)
        {
            switch (conv.LaneWidth * 10 + conv.LaneVectors)
            {
                case 161: LanesImage<Vector512<float>, ConvLanes.OneVector>(conv, image, Wp, offsets, output); break;
                case 162: LanesImage<Vector512<float>, ConvLanes.TwoVectors>(conv, image, Wp, offsets, output); break;
                case 81: LanesImage<Vector256<float>, ConvLanes.OneVector>(conv, image, Wp, offsets, output); break;
                case 82: LanesImage<Vector256<float>, ConvLanes.TwoVectors>(conv, image, Wp, offsets, output); break;
                case 41: LanesImage<Vector128<float>, ConvLanes.OneVector>(conv, image, Wp, offsets, output); break;
                default: LanesImage<Vector128<float>, ConvLanes.TwoVectors>(conv, image, Wp, offsets, output); break;
            }
            return output;
        }

        if (conv.Rows)
        {
            RowsImage<TV>(conv, image, Wp, offsets, output);
            return output;
        }

        // Micro-tiles of MR channels × NR positions; a tile reads only the kernel rows that reach inside the image for
        // one of its output rows (TapRows: both bounds fall as p grows), so zero padding rows are skipped.
        float* wide = GemmScratch.Get(ref _col, K * positions);
        int tapsPerRow = C * S;
        for (int j0 = 0; j0 < positions; j0 += nr)
        {
            int columns = Math.Min(nr, positions - j0);
            int low = conv.TapRows(Math.Min(P - 1, (j0 + columns - 1) / Wp)).Low, high = conv.TapRows(j0 / Wp).High;
            int first = low * tapsPerRow, length = Math.Max(0, high - low + 1) * tapsPerRow;
            for (int i0 = 0; i0 < K; i0 += Gemm.MR)
                Gemm.MicroKernel<TV>(length, conv.Panels + (nint)i0 * taps + first * Gemm.MR, image + j0,
                    offsets + first, wide + (nint)i0 * positions + j0, positions, Math.Min(Gemm.MR, K - i0), columns,
                    accumulate: false, Count<TV>());
        }
        if (conv.KeepWide) return wide;
        for (int k = 0; k < K; k++)
        {
            float bias = conv.Bias != null ? conv.Bias[k] : 0;
            for (int p = 0; p < P; p++)
            {
                float* target = output + ((nint)k * P + p) * Q, source = wide + (nint)k * positions + p * Wp;
                if (conv.Accumulate) AddTo<TV>(target, source, Q);
                else CopyAdd<TV>(target, source, bias, Q);
            }
        }
        return output;
    }

    /// <summary>The rows engine on one padded image: pairs of output rows × one vector of positions × MR channels,
    /// reading only the kernel rows either output row reads inside the image.</summary>
    [SkipLocalsInit]
    private static void RowsImage<TV>(in Implicit conv, float* image, int Wp, int* offsets, float* output)
        where TV : struct
    {
        int K = conv.OutChannels, P = conv.OutHeight, Q = conv.OutWidth, taps = conv.Taps,
            tapsPerRow = conv.Channels * conv.S;
        int width = Count<TV>(), nr = 2 * width;
        float* tile = stackalloc float[Gemm.MR * 32];
        for (int p0 = 0; p0 < P; p0 += 2)
        {
            int pairRows = Math.Min(2, P - p0);
            int low = conv.TapRows(p0 + pairRows - 1).Low, high = conv.TapRows(p0).High;
            int first = low * tapsPerRow, length = Math.Max(0, high - low + 1) * tapsPerRow;
            for (int q0 = 0; q0 < Q; q0 += width)
            {
                int columns = Math.Min(width, Q - q0);
                for (int i0 = 0; i0 < K; i0 += Gemm.MR)
                {
                    // The micro-tile's second vector of positions is the next output row, Wp further in the image.
                    Gemm.MicroKernel<TV>(length, conv.Panels + (nint)i0 * taps + first * Gemm.MR, image + p0 * Wp + q0,
                        offsets + first, tile, nr, Gemm.MR, nr, accumulate: false, Wp);
                    for (int i = 0; i < Math.Min(Gemm.MR, K - i0); i++)
                    for (int v = 0; v < pairRows; v++)
                    {
                        float* target = output + ((nint)(i0 + i) * P + p0 + v) * Q + q0,
                            source = tile + i * nr + v * width;
                        if (conv.Accumulate) AddTo<TV>(target, source, columns);
                        else CopyAdd<TV>(target, source, conv.Bias != null ? conv.Bias[i0 + i] : 0, columns);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The offsets c·plane + r·Wp + s of the kernel taps in a padded image, in per-thread scratch: in the weight's
    /// (c, r, s) order, or in (r, c, s) order when <paramref name="rowsFirst"/>.
    /// </summary>
    private static int* TapOffsets(int C, int R, int S, int plane, int Wp, bool rowsFirst)
    {
        var held = _tapOffsets;
        int* offsets = (int*)GemmScratch.Get(ref _tapOffsets, C * R * S);
        if (held == _tapOffsets && _tapOffsetsShape == (C, R, S, plane, Wp, rowsFirst)) return offsets;
        _tapOffsetsShape = (C, R, S, plane, Wp, rowsFirst);
        for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
        for (int t = 0; t < S; t++)
            offsets[rowsFirst ? (r * C + c) * S + t : (c * R + r) * S + t] = c * plane + r * Wp + t;
        return offsets;
    }

    /// <summary>A [rows, taps] matrix packed into panels of <see cref="Gemm.MR"/> rows (zero rows past the last), in
    /// per-thread scratch.</summary>
    private static float* PackPanels(float* matrix, int rows, int taps)
    {
        float* panels = GemmScratch.Get(ref _weightPanels, RoundUp(rows, Gemm.MR) * taps);
        Gemm.PackA(false, matrix, taps, rows, taps, panels);
        return panels;
    }

    /// <summary>
    /// This thread's zero-padded copy of one image, [C, H + 2·padH, W + 2·padW] followed by <paramref name="slack"/>
    /// zeros: cleared when the geometry changes, else only the interior is written (nothing writes to the zeros).
    /// </summary>
    private static float* BorderedImage<TV>(float* source, int C, int H, int W, int padH, int padW, int slack)
        where TV : struct
    {
        int plane = (H + 2 * padH) * (W + 2 * padW);
        float* image = GemmScratch.Get(ref _borderedImage, C * plane + slack);
        if (_borderedFor != (_borderedImage, C, H, W, padH, padW, slack))
        {
            new Span<float>(image, C * plane + slack).Clear();
            _borderedFor = (_borderedImage, C, H, W, padH, padW, slack);
        }
        CopyInterior<TV>(source, image, C, H, W, padH, padW);
        return image;
    }

    /// <summary>image[c, h + padH, w + padW] = source[c, h, w], zero elsewhere in
    /// [C, H + 2·padH, W + 2·padW].</summary>
    private static void PadImage<TV>(float* source, float* image, int C, int H, int W, int padH, int padW)
        where TV : struct
    {
        int Hp = H + 2 * padH, Wp = W + 2 * padW, plane = Hp * Wp;
        if (padH == 0 && padW == 0)
        {
            Copy<TV>(image, source, C * plane);
            return;
        }
        new Span<float>(image, C * plane).Clear();
        CopyInterior<TV>(source, image, C, H, W, padH, padW);
    }

    /// <summary>image[c, h + padH, w + padW] = source[c, h, w]; the padding is left as it is.</summary>
    private static void CopyInterior<TV>(float* source, float* image, int C, int H, int W, int padH, int padW)
        where TV : struct
    {
        int Wp = W + 2 * padW, plane = (H + 2 * padH) * Wp;
        for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
            Copy<TV>(image + (nint)c * plane + (h + padH) * Wp + padW, source + ((nint)c * H + h) * W, W);
    }

    /// <summary>The lanes engine on one padded image: tiles of up to TileRows positions of one output row, per block of
    /// channels.</summary>
    [SkipLocalsInit]
    private static void LanesImage<TL, TN>(in Implicit conv, float* image, int Wp, int* offsets, float* output)
        where TL : struct where TN : struct, ConvLanes.IVectorCount
    {
        int K = conv.OutChannels, P = conv.OutHeight, Q = conv.OutWidth, taps = conv.Taps, ld = conv.PackedLd;
        int block = TN.Value * Count<TL>(), tileRows = conv.TileRows, tapsPerRow = conv.Channels * conv.S;
        float* tile = stackalloc float[ConvLanes.MaxRows * 32];
        for (int k0 = 0; k0 < K; k0 += block)
        {
            int channels = Math.Min(block, K - k0);
            for (int p = 0; p < P; p++)
            for (int q0 = 0; q0 < Q; q0 += tileRows)
            {
                // Only the kernel rows that read inside the image: a contiguous run of taps in (r, c, s) order.
                var (low, high) = conv.TapRows(p);
                int first = low * tapsPerRow, length = Math.Max(0, high - low + 1) * tapsPerRow;
                int rows = Math.Min(tileRows, Q - q0);
                if (conv.ChannelsLast)
                {
                    ConvLanes.PositionsTile<TL, TN>(rows, length, image + p * Wp + q0, offsets + first,
                        conv.Packed + (nint)first * ld + k0, ld,
                        output + (((nint)(k0 / block) * P + p) * Q + q0) * block, block);
                    continue;
                }
                ConvLanes.PositionsTile<TL, TN>(rows, length, image + p * Wp + q0, offsets + first,
                    conv.Packed + (nint)first * ld + k0, ld, tile, block);
                for (int k = 0; k < channels; k++)
                {
                    float* target = output + ((nint)(k0 + k) * P + p) * Q + q0, source = tile + k;
                    if (conv.Accumulate)
                        for (int j = 0; j < rows; j++) target[j] += source[j * block];
                    else
                    {
                        float bias = conv.Bias != null ? conv.Bias[k0 + k] : 0;
                        for (int j = 0; j < rows; j++) target[j] = source[j * block] + bias;
                    }
                }
            }
        }
    }

    /// <summary>Any stride: the image's im2col matrix [CRS, PQ] (rows padded to whole NR panels), multiplied in
    /// place.</summary>
    private static void ForwardImageIm2Col<TV>(void* raw, int n) where TV : struct
    {
        var s = (State*)raw;
        ForwardImageIm2Col<TV>(s, n,
            s->Output + (nint)n * s->Shape.OutChannels * s->Shape.OutHeight * s->Shape.OutWidth);
    }

    /// <summary>Image n of state's convolution (any stride) into output [K, P, Q], through im2col.</summary>
    private static void ForwardImageIm2Col<TV>(State* s, int n, float* output) where TV : struct
    {
        ref readonly var shape = ref s->Shape;
        int crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        int ldCol = Gemm.RoundUp(pq, 2 * Count<TV>());
        float* col = GemmScratch.Get(ref _col, crs * ldCol);
        Im2Col.Gather<TV>(s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, col, ldCol, ldCol, shape);
        int* offsets = (int*)GemmScratch.Get(ref _tapOffsets, crs);
        _tapOffsetsShape = default;
        for (int row = 0; row < crs; row++) offsets[row] = row * ldCol;
        if (s->Bias != null)
            for (int k = 0; k < shape.OutChannels; k++) Fill<TV>(output + (nint)k * pq, s->Bias[k], pq);
        Gemm.MultiplyInPlaceB<TV>(shape.OutChannels, pq, crs, s->Weight, crs, col, offsets, output, pq,
            accumulate: s->Bias != null);
    }

    internal static void BackwardInput<TV>(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight,
        Span<float> inputGrad, in ConvShape shape)
        where TV : struct => BackwardInput<TV>(outputGrad, weight, inputGrad, shape, Engine.Auto);

    /// <summary>
    /// At stride 1 with padding below the kernel size, the input gradient is a full correlation: a stride-1 convolution
    /// of the output gradient, zero-padded by R − 1 − pad and S − 1 − pad, with the weight flipped in both taps and
    /// with its channel axes swapped, accumulated onto inputGrad; it runs on the forward pass's engines. Otherwise
    /// col2im(Wᵀ·outputGrad_n) per image.
    /// </summary>
    internal static void BackwardInput<TV>(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight,
        Span<float> inputGrad, in ConvShape shape, Engine engine) where TV : struct
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weight.Length, shape.WeightLength, nameof(weight), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        int C = shape.InChannels, K = shape.OutChannels, R = shape.KernelHeight, S = shape.KernelWidth,
            pad = shape.Padding;
        fixed (float* dy = outputGrad, w = weight, dx = inputGrad)
        {
            var state = new State { Shape = shape, Output = dy, Weight = w, Input = dx };
            if (shape.Stride != 1 || pad > R - 1 || pad > S - 1 || engine == Engine.Im2Col)
            {
                Workers.Run(shape.Batch, &state, &BackwardInputImage<TV>);
                return;
            }
            state = new State
            {
                Shape = shape, Input = dy, Output = dx,
                Conv = new Implicit
                {
                    Channels = K, Height = shape.OutHeight, Width = shape.OutWidth, PadH = R - 1 - pad,
                    PadW = S - 1 - pad, R = R, S = S, OutChannels = C, Accumulate = true,
                },
            };
            Plan<TV>(ref state.Conv, engine);
            // flipped[c, (r·K + k)·S + s] = weight[k, c, R−1−r, S−1−s], taps in (r, k, s) order: [C, KRS] packed into
            // panels for the GEMM, or transposed for the lanes.
            int taps = K * R * S, ld = state.Conv.Lanes ? state.Conv.PackedLd : taps;
            float* flipped = GemmScratch.Get(ref _packedWeight, (state.Conv.Lanes ? taps : C) * ld);
            for (int k = 0; k < K; k++)
            for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++)
            for (int t = 0; t < S; t++)
            {
                float value = w[(((nint)k * C + c) * R + R - 1 - r) * S + S - 1 - t];
                if (state.Conv.Lanes) flipped[(nint)((r * K + k) * S + t) * ld + c] = value;
                else flipped[(nint)c * ld + (r * K + k) * S + t] = value;
            }
            if (state.Conv.Lanes)
            {
                for (int tap = 0; tap < taps; tap++)
                    for (int c = C; c < ld; c++) flipped[(nint)tap * ld + c] = 0;
                state.Conv.Packed = flipped;
            }
            else state.Conv.Panels = PackPanels(flipped, C, taps);
            Workers.Run(shape.Batch, &state, &ImplicitImage<TV>);
        }
    }

    private static void BackwardInputImage<TV>(void* raw, int n) where TV : struct
    {
        var s = (State*)raw;
        ref readonly var shape = ref s->Shape;
        int crs = shape.InChannels * shape.KernelHeight * shape.KernelWidth, pq = shape.OutHeight * shape.OutWidth;
        float* colGrad = GemmScratch.Get(ref _col, crs * pq);
        // colGrad[CRS, PQ] = Wᵀ · outputGrad_n, then scattered back onto the image it was gathered from.
        Gemm.Multiply<TV>(true, false, crs, pq, shape.OutChannels, s->Weight, crs,
            s->Output + (nint)n * shape.OutChannels * pq, pq, colGrad, pq, accumulate: false);
        Im2Col.ScatterAdd<TV>(colGrad, pq, s->Input + (nint)n * shape.InChannels * shape.Height * shape.Width, shape);
    }

    internal static void BackwardWeight<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        Span<float> weightGrad, in ConvShape shape)
        where TV : struct => BackwardWeight<TV>(input, outputGrad, weightGrad, shape, Engine.Auto);

    /// <summary>
    /// Engine.Gemm (stride 1 only): output channels in rows, positions in the lanes (<see cref="ConvRows"/>); any other
    /// engine: output channels in the lanes, taps broadcast (<see cref="ConvLanes.TapsTile"/>). Auto takes the one
    /// that computes fewer lane multiply-adds.
    /// </summary>
    internal static void BackwardWeight<TV>(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        Span<float> weightGrad, in ConvShape shape, Engine engine) where TV : struct
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(weightGrad.Length, shape.WeightLength, nameof(weightGrad), shape);
        int parts = (shape.Batch + ImagesPerPart - 1) / ImagesPerPart, length = shape.WeightLength;
        float* partials = GemmScratch.Get(ref _partials, parts * length);
        var (width, vectors, padded, _) = LaneLayout<TV>(shape.OutChannels);
        bool rows = shape.Stride == 1 && (engine == Engine.Gemm || engine == Engine.Rows || (engine == Engine.Auto &&
            RowsWeightGradCost<TV>(shape) < (double)padded * shape.OutHeight * shape.OutWidth));
        fixed (float* x = input, dy = outputGrad, dw = weightGrad)
        {
            var state = new State { Shape = shape, Input = x, Output = dy, Partials = partials, LaneWidth = width,
                LaneVectors = vectors };
            if (rows) Workers.Run(parts, &state, &BackwardWeightRowsPart<TV>);
            else Workers.Run(parts, &state, &BackwardWeightPart<TV>);
            AddPartials<TV>(partials, parts, length, dw);
        }
    }

    /// <summary>
    /// One part of the weight gradient with <see cref="ConvLanes.TapsTile"/>: the part's images zero-padded side by
    /// side, its output gradients transposed to [images·P·Q, channels], and every tap summed over every output
    /// position (any stride), the output channels in the lanes.
    /// </summary>
    private static void BackwardWeightPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (State*)raw;
        switch (s->LaneWidth * 10 + s->LaneVectors)
        {
            case 161: BackwardWeightPart<TV, Vector512<float>, ConvLanes.OneVector>(s, part); break;
            case 162: BackwardWeightPart<TV, Vector512<float>, ConvLanes.TwoVectors>(s, part); break;
            case 81: BackwardWeightPart<TV, Vector256<float>, ConvLanes.OneVector>(s, part); break;
            case 82: BackwardWeightPart<TV, Vector256<float>, ConvLanes.TwoVectors>(s, part); break;
            case 41: BackwardWeightPart<TV, Vector128<float>, ConvLanes.OneVector>(s, part); break;
            default: BackwardWeightPart<TV, Vector128<float>, ConvLanes.TwoVectors>(s, part); break;
        }
    }

    [SkipLocalsInit]
    private static void BackwardWeightPart<TV, TL, TN>(State* s, int part)
        where TV : struct where TL : struct where TN : struct, ConvLanes.IVectorCount
    {
        ref readonly var shape = ref s->Shape;
        int C = shape.InChannels, H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth,
            K = shape.OutChannels;
        int P = shape.OutHeight, Q = shape.OutWidth, PQ = P * Q, stride = shape.Stride, pad = shape.Padding;
        int Hp = H + 2 * pad, Wp = W + 2 * pad, plane = Hp * Wp, imageLength = C * plane, taps = C * R * S;
        int first = part * ImagesPerPart, count = Math.Min(shape.Batch, first + ImagesPerPart) - first;
        int block = TN.Value * Count<TL>(), ld = RoundUp(K, block);

        float* images = GemmScratch.Get(ref _paddedImage, count * imageLength);
        for (int i = 0; i < count; i++)
            PadImage<TV>(s->Input + (nint)(first + i) * C * H * W, images + (nint)i * imageLength, C, H, W, pad, pad);

        // gradT[i·PQ + pq, k] = outputGrad[first + i, k, pq], lanes past K zero.
        float* gradT = GemmScratch.Get(ref _outputGradRows, count * PQ * ld);
        for (int i = 0; i < count; i++)
        {
            float* source = s->Output + (nint)(first + i) * K * PQ, target = gradT + (nint)i * PQ * ld;
            int pq = 0;
            // Eight positions × eight channels at a time through registers, where ld is a multiple of 8.
            if (Avx.IsSupported && ld % 8 == 0)
                for (; pq + 8 <= PQ; pq += 8)
                    for (int k0 = 0; k0 < ld; k0 += 8)
                        Gemm.Transpose8x8(source + (nint)k0 * PQ + pq, PQ, target + (nint)pq * ld + k0, ld,
                            Math.Clamp(K - k0, 0, 8));
            for (target += (nint)pq * ld; pq < PQ; pq++, target += ld)
            {
                int k = 0;
                for (; k < K; k++) target[k] = source[(nint)k * PQ + pq];
                for (; k < ld; k++) target[k] = 0;
            }
        }

        int* offsets = TapOffsets(C, R, S, plane, Wp, rowsFirst: false);

        float* partial = s->Partials + (nint)part * K * taps;
        float* tile = stackalloc float[ConvLanes.MaxRows * 32];
        int tileRows = ConvLanes.TileRows(taps, TN.Value == 2 ? ConvLanes.MaxRowsTwoVectors : ConvLanes.MaxRows);
        for (int k0 = 0; k0 < K; k0 += block)
        {
            int channels = Math.Min(block, K - k0);
            for (int t0 = 0; t0 < taps; t0 += tileRows)
            {
                int rows = Math.Min(tileRows, taps - t0);
                ConvLanes.TapsTile<TL, TN>(rows, count, images, imageLength, offsets + t0, P, Q, stride * Wp, stride,
                    gradT + k0, ld, tile, block);
                for (int k = 0; k < channels; k++)
                {
                    float* target = partial + (nint)(k0 + k) * taps + t0, source = tile + k;
                    for (int j = 0; j < rows; j++) target[j] = source[j * block];
                }
            }
        }
    }

    /// <summary>Lane multiply-adds per tap of the rows engine: channels padded to whole tiles, output rows widened to
    /// the padded image's rows.</summary>
    private static double RowsWeightGradCost<TV>(in ConvShape shape) where TV : struct =>
        (double)RoundUp(shape.OutChannels, ConvRows.Rows) *
            RoundUp(shape.OutHeight * (shape.Width + 2 * shape.Padding), Count<TV>());

    /// <summary>
    /// One part of a stride-1 weight gradient with <see cref="ConvRows.TapsTile"/>: the part's images zero-padded side
    /// by side, each output gradient row widened to the padded row length Wp (zero at q ≥ Q), so that tap (c, r, s) of
    /// output position j = p·Wp + q reads the padded image at c·Hp·Wp + r·Wp + s + j for every j alike.
    /// </summary>
    private static void BackwardWeightRowsPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (State*)raw;
        ref readonly var shape = ref s->Shape;
        int C = shape.InChannels, H = shape.Height, W = shape.Width, R = shape.KernelHeight, S = shape.KernelWidth,
            K = shape.OutChannels;
        int P = shape.OutHeight, Q = shape.OutWidth, PQ = P * Q, pad = shape.Padding, width = Count<TV>();
        int Hp = H + 2 * pad, Wp = W + 2 * pad, plane = Hp * Wp, taps = C * R * S;
        int first = part * ImagesPerPart, count = Math.Min(shape.Batch, first + ImagesPerPart) - first;
        // Positions run to RoundUp(P·Wp, width): reads reach past the image by at most S − 1 + width, kept zero.
        int length = RoundUp(P * Wp, width), slack = RoundUp(S + width, 16), imageStride = C * plane + slack;
        int rowsPadded = RoundUp(K, ConvRows.Rows), gradImageStride = rowsPadded * length;

        float* images = GemmScratch.Get(ref _paddedImage, count * imageStride);
        for (int i = 0; i < count; i++)
        {
            float* image = images + (nint)i * imageStride;
            PadImage<TV>(s->Input + (nint)(first + i) * C * H * W, image, C, H, W, pad, pad);
            new Span<float>(image + C * plane, slack).Clear();
        }

        float* grad = GemmScratch.Get(ref _outputGradRows, count * gradImageStride);
        new Span<float>(grad, count * gradImageStride).Clear();
        for (int i = 0; i < count; i++)
        for (int k = 0; k < K; k++)
        {
            float* source = s->Output + ((nint)(first + i) * K + k) * PQ,
                target = grad + (nint)i * gradImageStride + (nint)k * length;
            for (int p = 0; p < P; p++) Copy<TV>(target + p * Wp, source + p * Q, Q);
        }

        int* offsets = TapOffsets(C, R, S, plane, Wp, rowsFirst: false);

        float* partial = s->Partials + (nint)part * K * taps;
        float* tile = stackalloc float[ConvRows.Rows * 4];
        int tileTaps = ConvLanes.TileRows(taps, ConvRows.MaxTaps);
        for (int k0 = 0; k0 < K; k0 += ConvRows.Rows)
        {
            int channels = Math.Min(ConvRows.Rows, K - k0);
            for (int t0 = 0; t0 < taps; t0 += tileTaps)
            {
                int n = Math.Min(tileTaps, taps - t0);
                ConvRows.TapsTile<TV>(n, count, images, imageStride, offsets + t0, grad + (nint)k0 * length, length,
                    gradImageStride, length, tile, 4);
                for (int k = 0; k < channels; k++)
                    for (int t = 0; t < n; t++) partial[(nint)(k0 + k) * taps + t0 + t] = tile[k * 4 + t];
            }
        }
    }

    internal static void BackwardBias<TV>(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in ConvShape shape)
        where TV : struct
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(biasGrad.Length, shape.OutChannels, nameof(biasGrad), shape);
        int parts = (shape.Batch + ImagesPerPart - 1) / ImagesPerPart;
        float* partials = GemmScratch.Get(ref _partials, parts * shape.OutChannels);
        fixed (float* dy = outputGrad, db = biasGrad)
        {
            var state = new State { Shape = shape, Output = dy, Partials = partials };
            Workers.Run(parts, &state, &BackwardBiasPart<TV>);
            AddPartials<TV>(partials, parts, shape.OutChannels, db);
        }
    }

    private static void BackwardBiasPart<TV>(void* raw, int part) where TV : struct
    {
        var s = (State*)raw;
        int K = s->Shape.OutChannels, pq = s->Shape.OutHeight * s->Shape.OutWidth;
        float* partial = s->Partials + (nint)part * K;
        int first = part * ImagesPerPart, end = Math.Min(s->Shape.Batch, first + ImagesPerPart);
        for (int k = 0; k < K; k++)
        {
            float sum = 0;
            for (int n = first; n < end; n++) sum += Sum<TV>(s->Output + ((nint)n * K + k) * pq, pq);
            partial[k] = sum;
        }
    }

    /// <summary>target += partial_0 + partial_1 + …, the partials added in part order.</summary>
    private static void AddPartials<TV>(float* partials, int parts, int length, float* target) where TV : struct
    {
        for (int part = 1; part < parts; part++) AddTo<TV>(partials, partials + (nint)part * length, length);
        AddTo<TV>(target, partials, length);
    }

    private static void Validate(in ConvShape shape)
    {
        if (shape.Batch < 1 || shape.InChannels < 1 || shape.Height < 1 || shape.Width < 1 || shape.OutChannels < 1
            || shape.KernelHeight < 1 || shape.KernelWidth < 1 || shape.Stride < 1 || shape.Padding < 0)
            throw new ArgumentException(
                $"{shape} is not a valid convolution: sizes and stride must be positive and padding non-negative.",
                nameof(shape));
        if (shape.Height + 2 * shape.Padding < shape.KernelHeight
            || shape.Width + 2 * shape.Padding < shape.KernelWidth)
            throw new ArgumentException(
                $"{shape} is not a valid convolution: the kernel is larger than the padded input.", nameof(shape));
    }
}
