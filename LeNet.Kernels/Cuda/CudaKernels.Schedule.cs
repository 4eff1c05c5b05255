using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// A training loop whose position lives on the device: a one-element cursor holds the index of the current step within
// the epoch. The batch gather reads its slice of the epoch's order at cursor × stride, Adam reads its bias-corrected
// scalars from a per-step table at the cursor, and the step's last launch stores the loss at the cursor and advances
// it — or Adam's launch does that too, its last group to finish (an atomic count after a device-wide fence) storing the
// loss and advancing the cursor once every group has read it. Every launch of a step then has the same arguments as the
// step before, so a step can be captured once and replayed (a CUDA graph); run step by step, the results are bit for
// bit those of Gather, AdamStep and a copy.
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>,
        int, ArrayView<float>, ArrayView<int>, int> _gatherAt = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, AdamScalars, ArrayView<float>, ArrayView<float>,
        ArrayView<int>> _adamScheduled = null!;

    // The count of Adam's groups done, for the one that finishes last to end the step (it resets the count to 0).
    private MemoryBuffer1D<int, Stride1D.Dense> _adamGroupsDone = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>,
        ArrayView<int>> _endStep = null!;

    private void LoadSchedule()
    {
        _gatherAt = Load<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, ArrayView<float>,
            ArrayView<int>, int>(GatherAtCursorKernel);
        _adamScheduled = Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<int>, AdamScalars, ArrayView<float>, ArrayView<float>, ArrayView<int>>(AdamScheduledKernel);
        _adamGroupsDone = Accelerator.Allocate1D<int>(1);
        _adamGroupsDone.View.MemSetToZero(Stream);
        _endStep = Load<ArrayView<float>, ArrayView<float>, ArrayView<int>>(EndStepKernel);
    }

    /// <summary>
    /// As <see cref="Gather"/> with order.SubView(cursor[0] · <paramref name="stride"/>, batch): the batch's start is
    /// read on the device. Neither the cursor nor the indices are checked there: cursor[0] · stride + batch must not
    /// exceed order's length.
    /// </summary>
    public void GatherAtCursor(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<int> cursor, int stride, ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize)
    {
        int batch = CheckGather(images, labels, batchImages, batchLabels, imageSize);
        CheckAtCursor(order, cursor, stride, batch);
        if (batch == 0)
            return;
        _gatherAt(Stream, StrideConfig((long)batch * imageSize), images, labels, order, cursor, stride, batchImages,
            batchLabels, imageSize);
    }

    /// <summary>The checks of a batch read at the cursor: a stride, a one-index cursor, an order the batch fits
    /// in.</summary>
    private static void CheckAtCursor(ArrayView<int> order, ArrayView<int> cursor, int stride, int batch)
    {
        if (stride < 1)
            throw new ArgumentOutOfRangeException(nameof(stride), stride,
                "The stride between batches is at least one image.");
        RequireCursor(cursor);
        if (batch > order.Length)
            throw new ArgumentException($"A batch of {batch} cannot be gathered by an order of {order.Length} indices.",
                nameof(order));
    }

    private static void GatherAtCursorKernel(ArrayView<float> images, ArrayView<int> labels, ArrayView<int> order,
        ArrayView<int> cursor, int stride, ArrayView<float> batchImages, ArrayView<int> batchLabels, int imageSize) =>
        GatherFrom(images, labels, order, cursor[0] * stride, batchImages, batchLabels, imageSize);

    /// <summary>
    /// The Adam step scalars of steps t, t+1, ... (t = <paramref name="firstStep"/>, 1-based), one step per rate of
    /// <paramref name="rates"/> (a learning-rate schedule's), as <see cref="AdamScheduled"/> reads them: triples
    /// (rate / (1 − β₁ᵗ), √(1 − β₂ᵗ), 1 − rate · weight decay) in <paramref name="table"/>, computed exactly as
    /// <see cref="AdamStep"/> computes them.
    /// </summary>
    public static void AdamScheduleTable(Span<float> table, int firstStep, ReadOnlySpan<float> rates, float beta1,
        float beta2, float weightDecay)
    {
        if (firstStep < 1)
            throw new ArgumentOutOfRangeException(nameof(firstStep), firstStep,
                "Adam's step count starts at 1 (it is the t in the bias corrections 1 − βᵗ).");
        if (table.Length != ScheduleStride * rates.Length)
            throw new ArgumentException(
                $"The table holds {ScheduleStride} scalars per step: {ScheduleStride * rates.Length} for " +
                    $"{rates.Length} rates, not {table.Length}.",
                nameof(table));
        for (int i = 0; i < rates.Length; i++)
        {
            (table[ScheduleStride * i], table[ScheduleStride * i + 1]) =
                AdamCorrections(firstStep + i, rates[i], beta1, beta2);
            table[ScheduleStride * i + 2] = 1f - rates[i] * weightDecay;
        }
    }

    /// <summary>Scalars per step in the table <see cref="AdamScheduleTable"/> writes.</summary>
    public const int ScheduleStride = 3;

    /// <summary>As Reference.Adam.Step&lt;float&gt;: the step size lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ), in float.</summary>
    private static (float StepSize, float BiasCorrection2Sqrt) AdamCorrections(int step, float learningRate,
        float beta1, float beta2)
    {
        float biasCorrection1 = 1f - MathF.Pow(beta1, step);
        float biasCorrection2Sqrt = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        return (learningRate / biasCorrection1, biasCorrection2Sqrt);
    }

    /// <summary>
    /// <see cref="AdamStep"/> whose step-dependent scalars are read on the device: the triple at
    /// <paramref name="schedule"/>[3·cursor[0]] (see <see cref="AdamScheduleTable"/>). The other hyperparameters are
    /// the same at every step. With <paramref name="clearGradient"/> the gradient is zeroed after it is read, as in
    /// <see cref="AdamStep"/>. Given a <paramref name="loss"/> (one element) and <paramref name="losses"/>, the launch
    /// also ends the step as <see cref="EndStep"/> does: losses[cursor[0]] = loss[0], then cursor[0] += 1, once every
    /// group has read the cursor.
    /// </summary>
    public void AdamScheduled(ArrayView<float> parameter, ArrayView<float> grad, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, ArrayView<float> schedule, ArrayView<int> cursor, float beta1, float beta2,
        float eps, float weightDecay, bool decoupled = false, bool clearGradient = false,
        ArrayView<float> loss = default, ArrayView<float> losses = default)
    {
        bool endStep = loss.Length > 0 || losses.Length > 0;
        if (endStep)
            CheckEndStep(loss, losses);
        int length = Checked(parameter.Length, nameof(parameter));
        SpanLength.RequireSame(Checked(grad.Length, nameof(grad)), length, nameof(grad), nameof(parameter));
        SpanLength.RequireSame(Checked(firstMoment.Length, nameof(firstMoment)), length, nameof(firstMoment),
            nameof(parameter));
        SpanLength.RequireSame(Checked(secondMoment.Length, nameof(secondMoment)), length, nameof(secondMoment),
            nameof(parameter));
        RequireCursor(cursor);
        if (schedule.Length < ScheduleStride || schedule.Length % ScheduleStride != 0)
            throw new ArgumentException(
                $"The schedule holds {ScheduleStride} scalars per step; {schedule.Length} values are not.",
                nameof(schedule));
        if (length == 0)
        {
            if (endStep)
                EndStep(loss, losses, cursor);
            return;
        }
        var scalars = new AdamScalars(beta1, beta2, eps, weightDecay, 0f, 0f, 0f, decoupled ? 1 : 0,
            clearGradient ? 1 : 0, endStep ? 1 : 0);
        _adamScheduled(Stream, StrideConfig(length), parameter, grad, firstMoment, secondMoment, schedule, cursor,
            scalars, endStep ? loss : schedule, endStep ? losses : schedule, _adamGroupsDone.View);
    }

    private static void AdamScheduledKernel(ArrayView<float> parameter, ArrayView<float> grad,
        ArrayView<float> firstMoment, ArrayView<float> secondMoment, ArrayView<float> schedule, ArrayView<int> cursor,
        AdamScalars a, ArrayView<float> loss, ArrayView<float> losses, ArrayView<int> groupsDone)
    {
        var isLast = SharedMemory.Allocate<int>(1);
        int step = cursor[0], at = ScheduleStride * step;
        float stepSize = schedule[at], biasCorrection2Sqrt = schedule[at + 1], decay = schedule[at + 2];
        int total = (int)parameter.Length, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            AdamUpdate(parameter, grad, firstMoment, secondMoment, i, a, stepSize, biasCorrection2Sqrt, decay);
        if (a.EndStep == 0)
            return;
        // Every group has read the cursor before it is counted, so the last one counted may advance it.
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (Group.IdxX == 0)
            isLast[0] = Atomic.Add(ref groupsDone[0], 1) == Grid.DimX - 1 ? 1 : 0;
        Group.Barrier();
        if (isLast[0] != 0 && Group.IdxX == 0)
        {
            MemoryFence.DeviceLevel();
            losses[step] = loss[0];
            cursor[0] = step + 1;
            groupsDone[0] = 0;
        }
    }

    /// <summary>losses[cursor[0]] = loss[0], then cursor[0] += 1: a step's last launch.</summary>
    public void EndStep(ArrayView<float> loss, ArrayView<float> losses, ArrayView<int> cursor)
    {
        RequireCursor(cursor);
        CheckEndStep(loss, losses);
        _endStep(Stream, new KernelConfig(1, 1), loss, losses, cursor);
    }

    private static void CheckEndStep(ArrayView<float> loss, ArrayView<float> losses)
    {
        if (loss.Length != 1)
            throw new ArgumentException($"The loss is one value, not {loss.Length}.", nameof(loss));
        if (losses.Length < 1)
            throw new ArgumentException("The losses have no slot to write to.", nameof(losses));
    }

    private static void EndStepKernel(ArrayView<float> loss, ArrayView<float> losses, ArrayView<int> cursor)
    {
        if (Grid.IdxX == 0 && Group.IdxX == 0)
        {
            int at = cursor[0];
            losses[at] = loss[0];
            cursor[0] = at + 1;
        }
    }

    private static void RequireCursor(ArrayView<int> cursor)
    {
        if (cursor.Length != 1)
            throw new ArgumentException($"The cursor is one index, not {cursor.Length}.", nameof(cursor));
    }
}
