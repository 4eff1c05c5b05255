using ILGPU.Runtime;
using LeNet.Kernels.Cuda;
using static LeNet.Tests.Kernels.Cuda.DeviceData;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// The kernels that read a training step's position from device memory (the cursor) against the ones given it by the
/// host: bit for bit the same, so the trainer's scheduled loop (and a replayed CUDA graph of it) computes what the
/// step-by-step loop did (the gather at the cursor is in GatherCudaTests).
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class ScheduleCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    [Theory]
    [MemberData(nameof(Devices))]
    public void Adam_reading_its_step_from_the_table_at_the_cursor_is_bit_for_bit_adam_given_the_step(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(52_100);
        const int length = 301, steps = 5, firstStep = 7; // the epoch starts at Adam's step 7 (a second epoch, or a
                                                          // resumed run)
        const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        foreach (var (weightDecay, decoupled) in new[] { (0f, false), (0.01f, false), (0.01f, true) })
        {
            var start = Uniform(rng, length, -0.1, 0.1);
            using var scheduledParameters = kernels.Upload(start);
            using var givenParameters = kernels.Upload(start);
            using var scheduledMoments = kernels.Zeros(2 * length);
            using var givenMoments = kernels.Zeros(2 * length);
            using var grad = kernels.Zeros(length);
            // A rate per step, as a learning-rate schedule gives: each step must update with its own.
            var rates = Enumerable.Range(0, steps).Select(k => lr * (k + 1) / steps).ToArray();
            var table = new float[CudaKernels.ScheduleStride * steps];
            CudaKernels.AdamScheduleTable(table, firstStep, rates, beta1, beta2, weightDecay);
            using var tableBuffer = kernels.Upload(table.Select(v => (double)v).ToArray());
            using var cursor = kernels.Upload(new int[1]);
            for (var k = 0; k < steps; k++)
            {
                grad.View.CopyFromCPU(Uniform(rng, length).Select(v => (float)v).ToArray());
                cursor.View.CopyFromCPU([k]);
                kernels.AdamScheduled(scheduledParameters.View, grad.View, scheduledMoments.View.SubView(0, length),
                    scheduledMoments.View.SubView(length, length), tableBuffer.View, cursor.View, beta1, beta2, eps,
                    weightDecay, decoupled);
                kernels.AdamStep(givenParameters.View, grad.View, givenMoments.View.SubView(0, length),
                    givenMoments.View.SubView(length, length), firstStep + k, rates[k], beta1, beta2, eps, weightDecay,
                    decoupled);
            }
            Assert.Equal(kernels.Download(givenParameters), kernels.Download(scheduledParameters));
            Assert.Equal(kernels.Download(givenMoments), kernels.Download(scheduledMoments));
            Assert.NotEqual(start, kernels.Download(scheduledParameters));
        }
    }

    [Fact]
    public void The_table_holds_each_steps_step_size_second_bias_correction_and_decay()
    {
        var table = new float[9];
        float[] rates = [1e-3f, 1e-3f, 5e-4f];
        CudaKernels.AdamScheduleTable(table, 1, rates, 0.9f, 0.999f, 0.01f);
        Assert.Equal(1e-3f / (1f - 0.9f), table[0], 6);
        Assert.Equal(MathF.Sqrt(1f - 0.999f), table[1], 6);
        Assert.Equal(1f - 1e-3f * 0.01f, table[2]);
        Assert.Equal(5e-4f / (1f - 0.9f * 0.9f * 0.9f), table[6], 6);
        Assert.Equal(1f - 5e-4f * 0.01f, table[8]);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            CudaKernels.AdamScheduleTable(table, 0, rates, 0.9f, 0.999f, 0));
        Assert.Throws<ArgumentException>(() => CudaKernels.AdamScheduleTable(new float[6], 1, rates, 0.9f, 0.999f, 0));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void End_step_stores_the_loss_at_the_cursor_and_advances_it(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        using var loss = kernels.Zeros(1);
        using var losses = kernels.Zeros(4);
        using var cursor = kernels.Upload([1]);
        foreach (var value in new[] { 0.5, 0.25 })
        {
            loss.View.CopyFromCPU([(float)value]);
            kernels.EndStep(loss.View, losses.View, cursor.View);
        }
        Assert.Equal([0, 0.5, 0.25, 0], kernels.Download(losses));
        Assert.Equal([3], kernels.Download(cursor));
        Assert.Throws<ArgumentException>(() => kernels.EndStep(losses.View, losses.View, cursor.View));
        using var twoCursors = kernels.Upload(new int[2]);
        Assert.Throws<ArgumentException>(() => kernels.EndStep(loss.View, losses.View, twoCursors.View));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Adam_ending_the_step_updates_as_adam_then_stores_the_loss_at_the_cursor_and_advances_it(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        var rng = new Random(52_200);
        const int length = 1_000, steps = 3; // several groups, so the last one to finish ends the step
        const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        var start = Uniform(rng, length, -0.1, 0.1);
        using var ending = kernels.Upload(start);
        using var plain = kernels.Upload(start);
        using var endingMoments = kernels.Zeros(2 * length);
        using var plainMoments = kernels.Zeros(2 * length);
        using var grad = kernels.Zeros(length);
        var table = new float[CudaKernels.ScheduleStride * (steps + 1)];
        CudaKernels.AdamScheduleTable(table, 1, Enumerable.Repeat(lr, steps + 1).ToArray(), beta1, beta2, 0f);
        using var tableBuffer = kernels.Upload(table.Select(v => (double)v).ToArray());
        using var cursor = kernels.Upload([1]);
        using var plainCursor = kernels.Upload([1]);
        using var loss = kernels.Zeros(1);
        using var losses = kernels.Zeros(steps + 1);
        for (var k = 0; k < steps; k++)
        {
            grad.View.CopyFromCPU(Uniform(rng, length).Select(v => (float)v).ToArray());
            loss.View.CopyFromCPU([0.5f + k]);
            kernels.AdamScheduled(ending.View, grad.View, endingMoments.View.SubView(0, length),
                endingMoments.View.SubView(length, length), tableBuffer.View, cursor.View, beta1, beta2, eps, 0f,
                loss: loss.View, losses: losses.View);
            kernels.AdamScheduled(plain.View, grad.View, plainMoments.View.SubView(0, length),
                plainMoments.View.SubView(length, length), tableBuffer.View, plainCursor.View, beta1, beta2, eps, 0f);
            plainCursor.View.CopyFromCPU([k + 2]);
        }
        Assert.Equal(kernels.Download(plain), kernels.Download(ending));
        Assert.Equal(kernels.Download(plainMoments), kernels.Download(endingMoments));
        Assert.Equal([0, 0.5, 1.5, 2.5], kernels.Download(losses));
        Assert.Equal([steps + 1], kernels.Download(cursor));
        Assert.Throws<ArgumentException>(() => kernels.AdamScheduled(ending.View, grad.View,
            endingMoments.View.SubView(0, length), endingMoments.View.SubView(length, length), tableBuffer.View,
            cursor.View, beta1, beta2, eps, 0f, loss: losses.View, losses: losses.View));
    }

    [Fact]
    public void A_cpu_accelerator_stream_cannot_be_captured_and_says_so()
    {
        using var gpu = GpuDevice.CreateCpu();
        var exception = Assert.Throws<NotSupportedException>(() => CudaGraph.CreateCaptureStream(gpu.Accelerator));
        Assert.Contains("CUDA GPU", exception.Message);
        var refused = Assert.Throws<ArgumentException>(() =>
            CudaGraph.Capture(gpu.Accelerator.DefaultStream, () => { }));
        Assert.Contains("CreateCaptureStream", refused.Message);
    }
}
