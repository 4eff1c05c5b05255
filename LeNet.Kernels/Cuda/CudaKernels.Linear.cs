using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Linear, row-major [N, In] · [Out, In]ᵀ: every product is one tiled GEMM (Tile×Tile blocks staged in shared memory,
// each thread one output element), the operands read through strides so the same routine serves the forward
// (input·weightᵀ, bias and optionally ReLU fused), the input gradient (outputGrad·weight, optionally masked by a
// preceding ReLU) and the weight gradient (outputGradᵀ·input); the backward runs all three gradients in one launch,
// optionally through the layer's own fused ReLU (outputGrad masked where the saved output is 0).
public sealed partial class CudaKernels
{
    /// <summary>Groups of the backward kernel: [0, InputTiles) input-gradient tiles, then WeightTiles weight-gradient
    /// tiles, then bias groups.</summary>
    internal readonly record struct LinearBackwardPlan(int Tile, int InputTiles, int WeightTiles, int MaskInput,
        int AccumulateInput, int MaskOutput);

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, LinearShape, int, int, int> _linearForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearShape,
        LinearBackwardPlan> _linearBackward = null!;

    private void LoadLinear()
    {
        _linearForward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearShape, int,
            int, int>(LinearForwardKernel);
        _linearBackward = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, LinearShape, LinearBackwardPlan>(LinearBackwardKernel);
    }

    /// <summary>
    /// output [N,Out] = input [N,In] · weightᵀ + bias (an empty bias means none), then max(·, 0) when
    /// <paramref name="relu"/> (Linear followed by ReLU in one launch). Overwrites output.
    /// </summary>
    public void LinearForward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> output, in LinearShape shape, bool relu = false)
    {
        ValidateLinear(shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(weight.Length, nameof(weight)), shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(Checked(bias.Length, nameof(bias)), shape.OutFeatures, nameof(bias), shape);
        SpanLength.Require(Checked(output.Length, nameof(output)), shape.OutputLength, nameof(output), shape);
        int tiles = TilesOf(shape.Batch) * TilesOf(shape.OutFeatures);
        _linearForward(Stream, new KernelConfig(tiles, Tile * Tile), input, weight, OrPlaceholder(bias, weight), output,
            shape, bias.Length > 0 ? 1 : 0, relu ? 1 : 0, Tile);
    }

    /// <summary>inputGrad [N,In] += outputGrad · weight.</summary>
    public void LinearBackwardInput(ArrayView<float> outputGrad, ArrayView<float> weight, ArrayView<float> inputGrad,
        in LinearShape shape) =>
        LinearBackward(default, weight, outputGrad, inputGrad, default, default, shape);

    /// <summary>weightGrad [Out,In] += outputGradᵀ · input.</summary>
    public void LinearBackwardWeight(ArrayView<float> input, ArrayView<float> outputGrad, ArrayView<float> weightGrad,
        in LinearShape shape) =>
        LinearBackward(input, default, outputGrad, default, weightGrad, default, shape);

    /// <summary>biasGrad [Out] += Σ_n outputGrad[n, ·].</summary>
    public void LinearBackwardBias(ArrayView<float> outputGrad, ArrayView<float> biasGrad, in LinearShape shape) =>
        LinearBackward(default, default, outputGrad, default, default, biasGrad, shape);

    /// <summary>
    /// All gradients of a Linear layer in one launch; inputGrad, weightGrad, biasGrad may each be empty to skip it.
    /// With <paramref name="maskInputByReLU"/>, the input gradient is added only where input &gt; 0: when input is a
    /// ReLU's output, inputGrad then receives the gradient of the ReLU's input (ReLU backward fused), since
    /// output &gt; 0 ⇔ input &gt; 0. Without <paramref name="accumulateInput"/> inputGrad is overwritten, its old
    /// contents ignored. With <paramref name="reluOutput"/> (the output of <see cref="LinearForward"/> with relu),
    /// outputGrad is the gradient of that ReLU's output and is used only where reluOutput &gt; 0: the layer's fused
    /// ReLU backward, in the same launch.
    /// </summary>
    public void LinearBackward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, ArrayView<float> weightGrad, ArrayView<float> biasGrad, in LinearShape shape,
        bool maskInputByReLU = false, bool accumulateInput = true, ArrayView<float> reluOutput = default)
    {
        ValidateLinear(shape);
        SpanLength.Require(Checked(outputGrad.Length, nameof(outputGrad)), shape.OutputLength,
            nameof(outputGrad), shape);
        SpanLength.RequireOrEmpty(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength,
            nameof(inputGrad), shape);
        SpanLength.RequireOrEmpty(Checked(weightGrad.Length, nameof(weightGrad)), shape.WeightLength,
            nameof(weightGrad), shape);
        SpanLength.RequireOrEmpty(Checked(biasGrad.Length, nameof(biasGrad)), shape.OutFeatures,
            nameof(biasGrad), shape);
        if (inputGrad.Length > 0)
            SpanLength.Require(Checked(weight.Length, nameof(weight)), shape.WeightLength, nameof(weight), shape);
        if (weightGrad.Length > 0 || (inputGrad.Length > 0 && maskInputByReLU))
            SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.RequireOrEmpty(Checked(reluOutput.Length, nameof(reluOutput)), shape.OutputLength,
            nameof(reluOutput), shape);

        int inputTiles = inputGrad.Length > 0 ? TilesOf(shape.Batch) * TilesOf(shape.InFeatures) : 0;
        int weightTiles = weightGrad.Length > 0 ? TilesOf(shape.OutFeatures) * TilesOf(shape.InFeatures) : 0;
        int biasGroups = biasGrad.Length > 0 ? (shape.OutFeatures + Tile * Tile - 1) / (Tile * Tile) : 0;
        if (inputTiles + weightTiles + biasGroups == 0)
            return;
        var placeholder = outputGrad;
        _linearBackward(Stream, new KernelConfig(inputTiles + weightTiles + biasGroups, Tile * Tile),
            OrPlaceholder(input, placeholder), OrPlaceholder(weight, placeholder), outputGrad,
            OrPlaceholder(reluOutput, placeholder), OrPlaceholder(inputGrad, placeholder),
            OrPlaceholder(weightGrad, placeholder), OrPlaceholder(biasGrad, placeholder), shape,
            new LinearBackwardPlan(Tile, inputTiles, weightTiles, maskInputByReLU ? 1 : 0, accumulateInput ? 1 : 0,
                reluOutput.Length > 0 ? 1 : 0));
    }

    private int TilesOf(int extent) => (extent + Tile - 1) / Tile;

    private static void LinearForwardKernel(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> output, LinearShape shape, int hasBias, int relu, int tile)
    {
        var tileA = SharedMemory.Allocate<float>(MaxTile * SlabPitchA);
        var tileB = SharedMemory.Allocate<float>(SlabTiles * MaxTile * SlabPitchB);
        int N = shape.Batch, I = shape.InFeatures, O = shape.OutFeatures;
        int tilesAcross = (O + tile - 1) / tile;
        int row0 = Grid.IdxX / tilesAcross * tile, col0 = Grid.IdxX % tilesAcross * tile;
        // output[n, o] = Σ_i input[n, i] · weight[o, i]: A = input (row stride I), B(i, o) = weight[o·I + i].
        float sum = TileProduct(tileA, tileB, input, I, 1, input, 0, weight, 1, I, N, O, I, row0, col0, tile);
        int n = row0 + Group.IdxX / tile, o = col0 + Group.IdxX % tile;
        if (n < N && o < O)
        {
            float value = hasBias != 0 ? sum + bias[o] : sum;
            output[n * O + o] = relu != 0 ? ReLU(value) : value;
        }
    }

    private static void LinearBackwardKernel(ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> outputGrad, ArrayView<float> reluOutput, ArrayView<float> inputGrad,
        ArrayView<float> weightGrad, ArrayView<float> biasGrad, LinearShape shape, LinearBackwardPlan plan)
    {
        var tileA = SharedMemory.Allocate<float>(MaxTile * SlabPitchA);
        var tileB = SharedMemory.Allocate<float>(SlabTiles * MaxTile * SlabPitchB);
        int N = shape.Batch, I = shape.InFeatures, O = shape.OutFeatures, tile = plan.Tile;
        int group = Grid.IdxX, ty = Group.IdxX / tile, tx = Group.IdxX % tile;
        int tilesAcrossInputs = (I + tile - 1) / tile;

        if (group < plan.InputTiles)
        {
            int row0 = group / tilesAcrossInputs * tile, col0 = group % tilesAcrossInputs * tile;
            // inputGrad[n, i] = Σ_o outputGrad[n, o] · weight[o, i]
            float sum = TileProduct(tileA, tileB, outputGrad, O, 1, reluOutput, plan.MaskOutput, weight, I, 1, N, I, O,
                row0, col0, tile);
            int n = row0 + ty, i = col0 + tx;
            if (n < N && i < I)
                Put(inputGrad, n * I + i, plan.MaskInput == 0 || input[n * I + i] > 0f ? sum : 0f,
                    plan.AccumulateInput);
        }
        else if (group < plan.InputTiles + plan.WeightTiles)
        {
            int t = group - plan.InputTiles;
            int row0 = t / tilesAcrossInputs * tile, col0 = t % tilesAcrossInputs * tile;
            // weightGrad[o, i] = Σ_n outputGrad[n, o] · input[n, i]: A(o, n) = outputGrad[n·O + o].
            float sum = TileProduct(tileA, tileB, outputGrad, 1, O, reluOutput, plan.MaskOutput, input, I, 1, O, I, N,
                row0, col0, tile);
            int o = row0 + ty, i = col0 + tx;
            if (o < O && i < I)
                weightGrad[o * I + i] += sum;
        }
        else
        {
            int o = (group - plan.InputTiles - plan.WeightTiles) * Group.DimX + Group.IdxX;
            if (o < O)
            {
                float sum = 0f;
                for (int n = 0; n < N; n++)
                    if (plan.MaskOutput == 0 || reluOutput[n * O + o] > 0f)
                        sum += outputGrad[n * O + o];
                biasGrad[o] += sum;
            }
        }
    }

    /// <summary>
    /// Depth of the slab of A and B a GEMM group stages per round, in tiles: each thread issues SlabTiles loads of A
    /// and of B, all in flight together, before the group waits, so a product over depth d waits for memory
    /// d / (SlabTiles·Tile) times instead of d / Tile times (fc's forward, depth 400: 4 rounds instead of 25; 7 with
    /// four tiles).
    /// </summary>
    internal const int SlabTiles = 8;

    private const int SlabPitchA = SlabTiles * MaxTile + 1, SlabPitchB = MaxTile + 1; // +1: no bank conflicts

    /// <summary>
    /// Σ_k A(row0 + ty, k) · B(k, col0 + tx) for this thread (ty, tx) of a tile×tile group, where
    /// A(m, k) = a[m·aRow + k·aCol] and B(k, n) = b[k·bRow + n·bCol] for m &lt; rows, n &lt; cols, k &lt; depth
    /// (zero outside), k in increasing order. Every thread of the group must call it (it synchronises); threads outside
    /// the output still help load. Slabs are loaded along whichever index is contiguous in memory, so neighbouring
    /// threads read neighbouring floats. With <paramref name="maskA"/>, A's element is taken as 0 where aMask
    /// (indexed as a) is not &gt; 0: a ReLU's backward applied while loading.
    /// </summary>
    private static float TileProduct(ArrayView<float> tileA, ArrayView<float> tileB, ArrayView<float> a, int aRow,
        int aCol, ArrayView<float> aMask, int maskA, ArrayView<float> b, int bRow, int bCol, int rows, int cols,
        int depth, int row0, int col0, int tile)
    {
        int thread = Group.IdxX, threads = tile * tile, ty = thread / tile, tx = thread % tile;
        int slab = SlabTiles * tile;
        float sum = 0f;
        for (int k0 = 0; k0 < depth; k0 += slab)
        {
            // SlabTiles elements of each operand per thread, loaded into registers first so the loads overlap.
            float a0 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile, thread, out int atA0);
            float a1 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + threads, out int atA1);
            float a2 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + 2 * threads, out int atA2);
            float a3 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + 3 * threads, out int atA3);
            float a4 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + 4 * threads, out int atA4);
            float a5 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + 5 * threads, out int atA5);
            float a6 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + 6 * threads, out int atA6);
            float a7 = SlabA(a, aRow, aCol, aMask, maskA, rows, depth, row0, k0, slab, tile,
                thread + 7 * threads, out int atA7);
            float b0 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread, out int atB0);
            float b1 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + threads, out int atB1);
            float b2 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + 2 * threads, out int atB2);
            float b3 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + 3 * threads, out int atB3);
            float b4 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + 4 * threads, out int atB4);
            float b5 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + 5 * threads, out int atB5);
            float b6 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + 6 * threads, out int atB6);
            float b7 = SlabB(b, bRow, bCol, cols, depth, col0, k0, slab, tile, thread + 7 * threads, out int atB7);
            tileA[atA0] = a0; tileA[atA1] = a1; tileA[atA2] = a2; tileA[atA3] = a3;
            tileA[atA4] = a4; tileA[atA5] = a5; tileA[atA6] = a6; tileA[atA7] = a7;
            tileB[atB0] = b0; tileB[atB1] = b1; tileB[atB2] = b2; tileB[atB3] = b3;
            tileB[atB4] = b4; tileB[atB5] = b5; tileB[atB6] = b6; tileB[atB7] = b7;
            Group.Barrier();
            int steps = IntMin(slab, depth - k0);
            for (int kk = 0; kk < steps; kk++)
                sum += tileA[ty * SlabPitchA + kk] * tileB[kk * SlabPitchB + tx];
            Group.Barrier();
        }
        return sum;
    }

    /// <summary>Element e of A's slab (tile rows × slab columns starting at (row0, k0)), and its place in
    /// tileA.</summary>
    private static float SlabA(ArrayView<float> a, int aRow, int aCol, ArrayView<float> aMask, int maskA, int rows,
        int depth, int row0, int k0, int slab, int tile, int e, out int at)
    {
        int mLocal, kLocal;
        if (aCol == 1) { kLocal = e % slab; mLocal = e / slab; }
        else { mLocal = e % tile; kLocal = e / tile; }
        at = mLocal * SlabPitchA + kLocal;
        int m = row0 + mLocal, k = k0 + kLocal, index = m * aRow + k * aCol;
        return m < rows && k < depth && (maskA == 0 || aMask[index] > 0f) ? a[index] : 0f;
    }

    /// <summary>Element e of B's slab (slab rows × tile columns starting at (k0, col0)), and its place in
    /// tileB.</summary>
    private static float SlabB(ArrayView<float> b, int bRow, int bCol, int cols, int depth, int col0, int k0, int slab,
        int tile, int e, out int at)
    {
        int kLocal, nLocal;
        if (bRow == 1) { kLocal = e % slab; nLocal = e / slab; }
        else { nLocal = e % tile; kLocal = e / tile; }
        at = kLocal * SlabPitchB + nLocal;
        int k = k0 + kLocal, n = col0 + nLocal;
        return k < depth && n < cols ? b[k * bRow + n * bCol] : 0f;
    }

    private static void ValidateLinear(in LinearShape shape)
    {
        if (shape.Batch < 1 || shape.InFeatures < 1 || shape.OutFeatures < 1)
            throw new ArgumentException($"{shape} is not a valid linear shape: all sizes must be positive.",
                nameof(shape));
    }
}
