using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// The classifier head fused with its loss: Linear In → Hidden, ReLU, Linear Hidden → Classes, softmax cross-entropy
// (LeNet-5's fc1 → relu1 → fc2 → loss) in two launches for a training step, where separate kernels take seven (two
// forwards, the loss, two backwards through ReLU, for both layers). Rows of the batch are independent up to the weight
// gradients, so the first launch gives each row a group that takes it through both layers, the softmax and the loss,
// and back to the gradients of the logits, of the hidden layer and of the input, with the first weight staged in shared
// memory (read twice: forward and input gradient) and each dot product split over several threads whose partials are
// added in a fixed order; the group that finishes last (an atomic count after a device-wide fence) adds the rows'
// losses into the mean in a fixed order too, so results are deterministic. The second launch computes the weight and
// bias gradients from what the first left (tiled GEMMs over the batch, as the Linear backward's).
public sealed partial class CudaKernels
{
    /// <summary>InputGradient: 0 none, 1 added to inputGrad, 2 overwriting it. WriteLoss 1: the mean loss is
    /// written.</summary>
    internal readonly record struct HeadRowsPlan(int InputGradient, int WriteLoss);

    /// <summary>Groups: [0, FirstTiles) first-weight tiles, then SecondTiles second-weight tiles, then BiasGroups;
    /// Biases: bit 0 first bias, bit 1 second.</summary>
    internal readonly record struct HeadWeightsPlan(int Tile, int FirstTiles, int SecondTiles,
        int BiasGroups, int Biases);

    /// <summary>Floats of shared memory for the staged first weight (Hidden rows of In + 1: the padding avoids bank
    /// conflicts).</summary>
    internal const int HeadStagedWeightCapacity = 10240;

    /// <summary>Floats of shared memory for one row's vectors: input, hidden, logits and hidden gradient
    /// (In + 2·Hidden + Classes).</summary>
    internal const int HeadRowCapacity = 640;

    /// <summary>Floats of shared memory for the split dot products' partials (at least the group size and every output
    /// count).</summary>
    internal const int HeadPartialCapacity = 1024;

    /// <summary>Whether <see cref="HeadForwardBackward"/> takes <paramref name="shape"/>: its first weight and a row's
    /// vectors fit shared memory (LeNet-5's do).</summary>
    public static bool HeadFits(in HeadShape shape) =>
        shape.Batch > 0 && shape.InFeatures > 0 && shape.Hidden > 0 && shape.Classes > 0
        && (long)shape.Hidden * (shape.InFeatures + 1) <= HeadStagedWeightCapacity
        && (long)shape.InFeatures + 2L * shape.Hidden + shape.Classes <= HeadRowCapacity
        && Math.Max(shape.InFeatures, Math.Max(shape.Hidden, shape.Classes)) <= HeadPartialCapacity;

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<int>, ArrayView<float>, ArrayView<float>, HeadShape, HeadRowsPlan> _headRows = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, HeadShape,
        HeadWeightsPlan> _headWeights = null!;

    // The count of rows' groups done, for the one that finishes last to add the losses (it resets the count to 0).
    private MemoryBuffer1D<int, Stride1D.Dense> _headRowsDone = null!;

    private void LoadHead()
    {
        _headRows = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>,
            ArrayView<float>, HeadShape, HeadRowsPlan>(HeadRowsKernel);
        _headWeights = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, HeadShape, HeadWeightsPlan>(HeadWeightsKernel);
        _headRowsDone = Accelerator.Allocate1D<int>(1);
        _headRowsDone.View.MemSetToZero(Stream);
    }

    /// <summary>
    /// The head's forward and its row-wise backward in one launch, one group per row n:
    /// hidden[n] = max(input[n]·firstWeightᵀ + firstBias, 0); logits = hidden[n]·secondWeightᵀ + secondBias; losses
    /// (scratch's tail) [n] = −log softmax(logits)[labels[n]]; then, for a loss gradient g = lossGrad[0] (read on the
    /// device), the logits' gradient g·(softmax − onehot)/N and the hidden layer's (through the ReLU) into scratch
    /// (<see cref="HeadShape.ScratchLength"/>), and the input's into inputGrad (added, or overwriting it without
    /// <paramref name="accumulateInput"/>; empty: not computed). With <paramref name="writeLoss"/>, loss[0] = the mean
    /// of the losses (PyTorch's CrossEntropyLoss). A label outside [0, Classes) gives a NaN loss (it cannot be reported
    /// from the device).
    /// </summary>
    public void HeadForwardBackward(ArrayView<float> input, ArrayView<float> firstWeight, ArrayView<float> firstBias,
        ArrayView<float> secondWeight, ArrayView<float> secondBias, ArrayView<int> labels, ArrayView<float> lossGrad,
        ArrayView<float> hidden, ArrayView<float> loss, ArrayView<float> scratch, ArrayView<float> inputGrad,
        in HeadShape shape, bool accumulateInput = true, bool writeLoss = true)
    {
        if (!HeadFits(shape))
            throw new ArgumentException(
                $"{shape} does not fit the fused head (see HeadFits): apply its layers and the loss one by one.",
                nameof(shape));
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(firstWeight.Length, nameof(firstWeight)), shape.First.WeightLength,
            nameof(firstWeight), shape);
        SpanLength.Require(Checked(firstBias.Length, nameof(firstBias)), shape.Hidden, nameof(firstBias), shape);
        SpanLength.Require(Checked(secondWeight.Length, nameof(secondWeight)), shape.Second.WeightLength,
            nameof(secondWeight), shape);
        SpanLength.Require(Checked(secondBias.Length, nameof(secondBias)), shape.Classes, nameof(secondBias), shape);
        SpanLength.Require(Checked(labels.Length, nameof(labels)), shape.Batch, nameof(labels), shape);
        SpanLength.Require(Checked(lossGrad.Length, nameof(lossGrad)), 1, nameof(lossGrad), shape);
        SpanLength.Require(Checked(hidden.Length, nameof(hidden)), shape.HiddenLength, nameof(hidden), shape);
        SpanLength.Require(Checked(loss.Length, nameof(loss)), 1, nameof(loss), shape);
        SpanLength.Require(Checked(scratch.Length, nameof(scratch)), shape.ScratchLength, nameof(scratch), shape);
        SpanLength.RequireOrEmpty(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength,
            nameof(inputGrad), shape);
        var plan = new HeadRowsPlan(inputGrad.Length == 0 ? 0 : accumulateInput ? 1 : 2, writeLoss ? 1 : 0);
        _headRows(Stream, new KernelConfig(shape.Batch, GroupSize), input, firstWeight, firstBias, secondWeight,
            secondBias, labels, lossGrad, hidden, loss, _headRowsDone.View, scratch,
            OrPlaceholder(inputGrad, input), shape, plan);
    }

    /// <summary>
    /// The head's weight and bias gradients from what <see cref="HeadForwardBackward"/> left in hidden and scratch,
    /// added to each of firstWeightGrad [Hidden, In], firstBiasGrad, secondWeightGrad [Classes, Hidden], secondBiasGrad
    /// that is not empty; one launch.
    /// </summary>
    public void HeadWeightGradients(ArrayView<float> input, ArrayView<float> hidden, ArrayView<float> scratch,
        ArrayView<float> firstWeightGrad, ArrayView<float> firstBiasGrad, ArrayView<float> secondWeightGrad,
        ArrayView<float> secondBiasGrad, in HeadShape shape)
    {
        if (!HeadFits(shape))
            throw new ArgumentException($"{shape} does not fit the fused head (see HeadFits).", nameof(shape));
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(hidden.Length, nameof(hidden)), shape.HiddenLength, nameof(hidden), shape);
        SpanLength.Require(Checked(scratch.Length, nameof(scratch)), shape.ScratchLength, nameof(scratch), shape);
        SpanLength.RequireOrEmpty(Checked(firstWeightGrad.Length, nameof(firstWeightGrad)), shape.First.WeightLength,
            nameof(firstWeightGrad), shape);
        SpanLength.RequireOrEmpty(Checked(firstBiasGrad.Length, nameof(firstBiasGrad)), shape.Hidden,
            nameof(firstBiasGrad), shape);
        SpanLength.RequireOrEmpty(Checked(secondWeightGrad.Length, nameof(secondWeightGrad)), shape.Second.WeightLength,
            nameof(secondWeightGrad), shape);
        SpanLength.RequireOrEmpty(Checked(secondBiasGrad.Length, nameof(secondBiasGrad)), shape.Classes,
            nameof(secondBiasGrad), shape);
        int firstTiles = firstWeightGrad.Length > 0 ? TilesOf(shape.Hidden) * TilesOf(shape.InFeatures) : 0;
        int secondTiles = secondWeightGrad.Length > 0 ? TilesOf(shape.Classes) * TilesOf(shape.Hidden) : 0;
        int biases = (firstBiasGrad.Length > 0 ? 1 : 0) | (secondBiasGrad.Length > 0 ? 2 : 0);
        int biasGroups = biases == 0 ? 0 : (shape.Hidden + shape.Classes + Tile * Tile - 1) / (Tile * Tile);
        if (firstTiles + secondTiles + biasGroups == 0)
            return;
        var placeholder = scratch;
        _headWeights(Stream, new KernelConfig(firstTiles + secondTiles + biasGroups, Tile * Tile), input, hidden,
            scratch, OrPlaceholder(firstWeightGrad, placeholder), OrPlaceholder(firstBiasGrad, placeholder),
            OrPlaceholder(secondWeightGrad, placeholder), OrPlaceholder(secondBiasGrad, placeholder), shape,
            new HeadWeightsPlan(Tile, firstTiles, secondTiles, biasGroups, biases));
    }

    private static void HeadRowsKernel(ArrayView<float> input, ArrayView<float> firstWeight, ArrayView<float> firstBias,
        ArrayView<float> secondWeight, ArrayView<float> secondBias, ArrayView<int> labels, ArrayView<float> lossGrad,
        ArrayView<float> hidden, ArrayView<float> loss, ArrayView<int> rowsDone, ArrayView<float> scratch,
        ArrayView<float> inputGrad, HeadShape shape, HeadRowsPlan plan)
    {
        var weight = SharedMemory.Allocate<float>(HeadStagedWeightCapacity);
        var vectors = SharedMemory.Allocate<float>(HeadRowCapacity);
        var partials = SharedMemory.Allocate<float>(HeadPartialCapacity);
        var isLast = SharedMemory.Allocate<int>(1);
        int N = shape.Batch, I = shape.InFeatures, H = shape.Hidden, C = shape.Classes, pitch = I + 1, rowPitch = C + H;
        int n = Grid.IdxX, thread = Group.IdxX, threads = Group.DimX;
        // vectors: the input row [0, I), hidden [I, I + H), logits [I + H, I + H + C), hidden gradient [I + H + C,
        // I + 2H + C).
        int atHidden = I, atLogits = I + H, atHiddenGrad = I + H + C;

        StageRows(firstWeight, weight, H, I, pitch);
        for (int i = thread; i < I; i += threads)
            vectors[i] = input[n * I + i];
        Group.Barrier();

        // hidden = max(W1·x + b1, 0): W1 from shared memory, row j at j·pitch.
        int parts = SplitDots(vectors, 0, weight, pitch, 1, H, I, partials);
        for (int j = thread; j < H; j += threads)
        {
            float h = ReLU(SumParts(partials, j, H, parts) + firstBias[j]);
            vectors[atHidden + j] = h;
            hidden[n * H + j] = h;
        }
        Group.Barrier();

        // logits = W2·hidden + b2.
        parts = SplitDots(vectors, atHidden, secondWeight, H, 1, C, H, partials);
        for (int j = thread; j < C; j += threads)
            vectors[atLogits + j] = SumParts(partials, j, C, parts) + secondBias[j];
        Group.Barrier();

        // Softmax, loss and the logits' gradient g·(p − onehot)/N, by the first warp: lane l takes classes l, l + warp
        // size, ...
        if (Warp.WarpIdx == 0)
            SoftmaxRow(vectors, atLogits, C, labels[n], lossGrad[0] / N, scratch, n * rowPitch, N * rowPitch + n);
        Group.Barrier();

        // The hidden layer's gradient: (W2ᵀ·dlogits) where hidden > 0, W2 [C, H] read column-wise (coalesced over j).
        parts = SplitDots(vectors, atLogits, secondWeight, 1, H, H, C, partials);
        for (int j = thread; j < H; j += threads)
        {
            float g = vectors[atHidden + j] > 0f ? SumParts(partials, j, H, parts) : 0f;
            vectors[atHiddenGrad + j] = g;
            scratch[n * rowPitch + C + j] = g;
        }
        Group.Barrier();

        // The input's gradient W1ᵀ·dhidden, W1 read column-wise from shared memory.
        if (plan.InputGradient != 0)
        {
            parts = SplitDots(vectors, atHiddenGrad, weight, 1, pitch, I, H, partials);
            for (int i = thread; i < I; i += threads)
                Put(inputGrad, n * I + i, SumParts(partials, i, I, parts), plan.InputGradient == 1 ? 1 : 0);
        }

        if (plan.WriteLoss == 0)
            return;
        // The last group to finish adds the rows' losses, in row order per thread and then by GroupReduction's fixed
        // tree.
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (thread == 0)
            isLast[0] = Atomic.Add(ref rowsDone[0], 1) == N - 1 ? 1 : 0;
        Group.Barrier();
        if (isLast[0] == 0)
            return;
        MemoryFence.DeviceLevel();
        float partial = 0f;
        for (int r = thread; r < N; r += threads)
            partial += scratch[N * rowPitch + r];
        float total = GroupReduction.SumToFirst(partials, partial);
        if (thread == 0)
        {
            loss[0] = total / N;
            rowsDone[0] = 0;
        }
    }

    /// <summary>
    /// In one warp (every lane calls it): the softmax of the row's logits at vectors[at ..] (classes of them), its loss
    /// −log p[label] (NaN for a label outside the classes) at scratch[lossAt] and the gradient scale·(p − onehot) in
    /// place of the logits and at scratch[gradAt ..]. Max and sum are warp reductions, broadcast from the first lane.
    /// </summary>
    private static void SoftmaxRow(ArrayView<float> vectors, int at, int classes, int label, float scale,
        ArrayView<float> scratch, int gradAt, int lossAt)
    {
        int lane = Warp.LaneIdx;
        float max = float.NegativeInfinity;
        for (int j = lane; j < classes; j += Warp.WarpSize)
            max = MathF.Max(max, vectors[at + j]);
        for (int distance = Warp.WarpSize / 2; distance > 0; distance /= 2)
            max = MathF.Max(max, Warp.ShuffleDown(max, distance));
        max = Warp.Shuffle(max, 0);
        float sumExp = 0f;
        for (int j = lane; j < classes; j += Warp.WarpSize)
            sumExp += DeviceMath.Exp(vectors[at + j] - max);
        sumExp = Warp.Shuffle(GroupReduction.WarpSum(sumExp), 0);
        if (lane == 0)
            scratch[lossAt] = (uint)label < (uint)classes
                ? DeviceMath.Log(sumExp) - (vectors[at + label] - max) : float.NaN;
        Warp.Barrier(); // the label's logit is read before its place takes the gradient
        float inverse = 1f / sumExp;
        for (int j = lane; j < classes; j += Warp.WarpSize)
        {
            float p = DeviceMath.Exp(vectors[at + j] - max) * inverse;
            float g = scale * (j == label ? p - 1f : p);
            vectors[at + j] = g; // the logits are not needed any more: their place takes their gradient
            scratch[gradAt + j] = g;
        }
    }

    /// <summary>
    /// Copies the rows × columns matrix <paramref name="source"/> (row-major) into <paramref name="target"/> with rows
    /// <paramref name="pitch"/> apart; each thread issues eight loads before it stores, so they are in flight together.
    /// </summary>
    private static void StageRows(ArrayView<float> source, ArrayView<float> target, int rows, int columns, int pitch)
    {
        int total = rows * columns, threads = Group.DimX;
        for (int e = Group.IdxX; e < total; e += 8 * threads)
        {
            float v0 = source[e];
            float v1 = Staged(source, e + threads, total), v2 = Staged(source, e + 2 * threads, total),
                v3 = Staged(source, e + 3 * threads, total);
            float v4 = Staged(source, e + 4 * threads, total), v5 = Staged(source, e + 5 * threads, total),
                v6 = Staged(source, e + 6 * threads, total);
            float v7 = Staged(source, e + 7 * threads, total);
            Stage(target, e, v0, total, columns, pitch); Stage(target, e + threads, v1, total, columns, pitch);
            Stage(target, e + 2 * threads, v2, total, columns, pitch);
            Stage(target, e + 3 * threads, v3, total, columns, pitch);
            Stage(target, e + 4 * threads, v4, total, columns, pitch);
            Stage(target, e + 5 * threads, v5, total, columns, pitch);
            Stage(target, e + 6 * threads, v6, total, columns, pitch);
            Stage(target, e + 7 * threads, v7, total, columns, pitch);
        }
    }

    private static float Staged(ArrayView<float> source, int e, int total) => e < total ? source[e] : 0f;

    private static void Stage(ArrayView<float> target, int e, float value, int total, int columns, int pitch)
    {
        if (e < total)
            target[e / columns * pitch + e % columns] = value;
    }

    /// <summary>
    /// The partial sums of outputs[j] = Σ_{k &lt; depth} vector[at + k] · matrix[j·jStride + k·kStride] for
    /// j &lt; outputs: each output's depth is cut into parts, a thread takes
    /// one (output, part) and leaves its partial at partials[part·outputs + j]. Returns the number of parts; the caller
    /// adds them with <see cref="SumParts"/> after nothing more than this call's closing barrier.
    /// </summary>
    private static int SplitDots(ArrayView<float> vector, int at, ArrayView<float> matrix, int jStride, int kStride,
        int outputs, int depth, ArrayView<float> partials)
    {
        // Parts: as many as the group has threads per output, but no more than about √depth, so that the adding of the
        // partials does not take longer than the dot products.
        int threads = Group.DimX, parts = IntMax(1, IntMin(threads / outputs, SquareRootAbove(depth))),
            chunk = (depth + parts - 1) / parts;
        for (int item = Group.IdxX; item < parts * outputs; item += threads)
        {
            int j = item % outputs, part = item / outputs;
            int k0 = part * chunk, k1 = IntMin(depth, k0 + chunk);
            float sum = 0f;
            for (int k = k0; k < k1; k++)
                sum += vector[at + k] * matrix[j * jStride + k * kStride];
            partials[part * outputs + j] = sum;
        }
        Group.Barrier();
        return parts;
    }

    /// <summary>The least r with r² ≥ value (value ≥ 1).</summary>
    private static int SquareRootAbove(int value)
    {
        int r = 1;
        while (r * r < value) r++;
        return r;
    }

    /// <summary>Σ over the parts of output j's partials, in part order.</summary>
    private static float SumParts(ArrayView<float> partials, int j, int outputs, int parts)
    {
        float sum = 0f;
        for (int part = 0; part < parts; part++)
            sum += partials[part * outputs + j];
        return sum;
    }

    private static void HeadWeightsKernel(ArrayView<float> input, ArrayView<float> hidden, ArrayView<float> scratch,
        ArrayView<float> firstWeightGrad, ArrayView<float> firstBiasGrad, ArrayView<float> secondWeightGrad,
        ArrayView<float> secondBiasGrad, HeadShape shape, HeadWeightsPlan plan)
    {
        var tileA = SharedMemory.Allocate<float>(MaxTile * SlabPitchA);
        var tileB = SharedMemory.Allocate<float>(SlabTiles * MaxTile * SlabPitchB);
        int N = shape.Batch, I = shape.InFeatures, H = shape.Hidden, C = shape.Classes, rowPitch = C + H,
            tile = plan.Tile;
        int group = Grid.IdxX, ty = Group.IdxX / tile, tx = Group.IdxX % tile;
        var hiddenGrad = scratch.SubView(C, scratch.Length - C);
        if (group < plan.FirstTiles)
        {
            int across = (I + tile - 1) / tile, row0 = group / across * tile, col0 = group % across * tile;
            // firstWeightGrad[j, i] = Σ_n dhidden[n, j] · input[n, i]: A(j, n) = hiddenGrad[n·rowPitch + j].
            float sum = TileProduct(tileA, tileB, hiddenGrad, 1, rowPitch, hiddenGrad, 0, input, I, 1, H, I, N,
                row0, col0, tile);
            int j = row0 + ty, i = col0 + tx;
            if (j < H && i < I)
                firstWeightGrad[j * I + i] += sum;
        }
        else if (group < plan.FirstTiles + plan.SecondTiles)
        {
            int t = group - plan.FirstTiles, across = (H + tile - 1) / tile, row0 = t / across * tile,
                col0 = t % across * tile;
            // secondWeightGrad[c, j] = Σ_n dlogits[n, c] · hidden[n, j].
            float sum = TileProduct(tileA, tileB, scratch, 1, rowPitch, scratch, 0, hidden, H, 1, C, H, N,
                row0, col0, tile);
            int c = row0 + ty, j = col0 + tx;
            if (c < C && j < H)
                secondWeightGrad[c * H + j] += sum;
        }
        else
        {
            // Bias items: the first bias's H, then the second's C; each sums its column of the scratch over the rows.
            int item = (group - plan.FirstTiles - plan.SecondTiles) * Group.DimX + Group.IdxX;
            bool first = item < H;
            if (item >= H + C || (first && (plan.Biases & 1) == 0) || (!first && (plan.Biases & 2) == 0))
                return;
            int column = first ? C + item : item - H;
            // Four sums over the rows r ≡ 0, 1, 2, 3 (mod 4), so that four loads are in flight at a time.
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            int r = 0;
            for (; r + 3 < N; r += 4)
            {
                s0 += scratch[r * rowPitch + column];
                s1 += scratch[(r + 1) * rowPitch + column];
                s2 += scratch[(r + 2) * rowPitch + column];
                s3 += scratch[(r + 3) * rowPitch + column];
            }
            for (; r < N; r++)
                s0 += scratch[r * rowPitch + column];
            float sum = s0 + s1 + (s2 + s3);
            if (first)
                firstBiasGrad[item] += sum;
            else
                secondBiasGrad[item - H] += sum;
        }
    }
}
