using LeNet.Core;
using LeNet.Core.Cuda;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Tests.Kernels;

namespace LeNet.Tests.Core;

/// <summary>
/// The GPU training loop with its position on the device (<see cref="StepSchedule"/>: the gather, Adam's bias
/// corrections and the loss's slot read from a cursor) against the loop the host tells each offset and step count: the
/// same weights and losses bit for bit, with the same launches per step — the property a captured, replayed step needs.
/// </summary>
[Collection(GpuDeviceCollection.Name)]
public class StepScheduleTests
{
    public static TheoryData<string> Devices() => GpuDevices.Names();

    private const int Images = 18, BatchSize = 5, Steps = 4; // three full batches and a last one of 3

    private static DeviceDataset Dataset(Device device)
    {
        var random = new Random(53_000);
        var pixels = GradientCheck.Uniform(random, Images * 32 * 32).Select(v => (float)(2 * v)).ToArray();
        var labels = Enumerable.Range(0, Images).Select(_ => random.Next(10)).ToArray();
        var data = new DeviceDataset(device, pixels, labels, 1, 32, 32);
        data.SetOrder(Enumerable.Range(0, Images).OrderBy(_ => random.Next()).ToArray());
        return data;
    }

    private static int Count(int step) => Math.Min(BatchSize, Images - step * BatchSize);

    /// <summary>
    /// LeNet-5 with Adam on a device, stepping through <see cref="Dataset"/> by a schedule, as the trainer does.
    /// </summary>
    private sealed class ScheduledLoop(Device device, int seed)
    {
        public readonly DeviceDataset Data = Dataset(device);
        public readonly LeNet.Core.Modules.Module Model = new LeNet5(seed: seed).To(device);
        public readonly Tensor Losses = Tensor.Zeros(device, Steps);
        public readonly StepSchedule Schedule = new(device, Steps);
        public readonly Workspace Workspace = new();
        public Adam Adam => _adam ??= new Adam(Model.Parameters());
        private Adam? _adam;

        /// <summary>The loss of the schedule's batch of <paramref name="count"/> (inside a workspace scope).</summary>
        public Tensor Loss(int count)
        {
            var (input, labels) = Data.Batch(Schedule, BatchSize, count);
            return Model.CrossEntropyLoss(input, labels);
        }

        /// <summary>
        /// The trainer's GPU step: Adam's launch leaves the gradients at zero for the next (new ones are zeros).
        /// </summary>
        public void Step(int count)
        {
            using var scope = Workspace.Begin();
            var loss = Loss(count);
            loss.Backward();
            Schedule.EndStep(loss, Losses, Adam);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Scheduled_steps_compute_bit_for_bit_what_host_driven_steps_compute(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var backend = (CudaBackend)device.Backend;
        var data = Dataset(device);

        // Two epochs each, so that the second epoch's table continues Adam's count.
        var hostModel = new LeNet5(seed: 41).To(device);
        var hostAdam = new Adam(hostModel.Parameters());
        var hostLosses = Tensor.Zeros(device, 2 * Steps);
        var hostWorkspace = new Workspace();
        var hostLaunches = new List<long>();
        for (var i = 0; i < 2 * Steps; i++)
        {
            var step = i % Steps;
            var before = backend.Launches;
            using var scope = hostWorkspace.Begin();
            var (input, labels) = data.Batch(step * BatchSize, Count(step));
            var loss = hostModel.CrossEntropyLoss(input, labels);
            hostAdam.ZeroGrad();
            loss.Backward();
            hostAdam.Step();
            loss.CopyInto(hostLosses, i);
            hostLaunches.Add(backend.Launches - before);
        }

        var loop = new ScheduledLoop(device, seed: 41);
        var epochLosses = new List<float>();
        var launches = new List<long>();
        for (var epoch = 0; epoch < 2; epoch++)
        {
            loop.Schedule.StartEpoch(0, loop.Adam);
            for (var step = 0; step < Steps; step++)
            {
                Assert.Equal(step, loop.Schedule.Step);
                var before = backend.Launches;
                loop.Step(Count(step));
                launches.Add(backend.Launches - before);
            }
            epochLosses.AddRange(loop.Losses.ToArray());
        }

        Assert.Equal(2 * Steps, loop.Adam.StepCount);
        Assert.Equal(hostLosses.ToArray(), epochLosses);
        Assert.Equal(hostModel.Parameters().SelectMany(p => p.ToArray()),
            loop.Model.Parameters().SelectMany(p => p.ToArray()));
        Assert.Equal(hostAdam.SecondMoments.SelectMany(m => m.ToArray()),
            loop.Adam.SecondMoments.SelectMany(m => m.ToArray()));
        // The loss's copy (a device copy, not counted) went into Adam's launch, which ends the step; ZeroGrad's memset
        // went into Adam's launch after the first step: one fewer. The same count at every full step after the first.
        Assert.Equal(hostLaunches.Select((n, i) => i == 0 ? n : n - 1), launches);
        Assert.Single(launches.Skip(1).Where((_, i) => Count((i + 1) % Steps) == BatchSize).Distinct());
    }

    /// <summary>
    /// What <see cref="LeNet.Kernels.Cuda.CudaKernels.LaunchObserver"/> saw during <paramref name="step"/>: each
    /// launch's kernel, configuration and arguments.
    /// </summary>
    private static List<(string Kernel, ILGPU.KernelConfig Config, object[] Arguments)> Launches(Device device,
        Action step)
    {
        var kernels = ((CudaBackend)device.Backend).Kernels;
        var launches = new List<(string, ILGPU.KernelConfig, object[])>();
        kernels.LaunchObserver = (kernel, config, arguments) => launches.Add((kernel, config, arguments));
        try
        {
            step();
        }
        finally
        {
            kernels.LaunchObserver = null;
        }
        return launches;
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Every_full_step_after_two_queues_the_same_launches_with_the_same_arguments(string deviceName)
    {
        GpuDevices.Require(deviceName);
        // What a captured step replays: the trainer captures its third full step and replays it for the full steps that
        // follow, the next epoch's included (after the eager smaller last batch). Views compare by buffer, offset and
        // length; shapes and scalars by value.
        var device = GpuDevices.Get(deviceName);
        var loop = new ScheduledLoop(device, seed: 44);
        loop.Schedule.StartEpoch(0, loop.Adam);
        loop.Step(BatchSize);
        loop.Step(BatchSize);
        var captured = Launches(device, () => loop.Step(BatchSize));
        loop.Step(Count(3));
        loop.Schedule.StartEpoch(0, loop.Adam);
        var nextEpoch = Launches(device, () => loop.Step(BatchSize));
        var after = Launches(device, () => loop.Step(BatchSize));
        // gather, 6 forward (each convolution with its block two, fc, the head with its loss), 10 backward (the head's
        // weight gradients, fc, each block two: its gradient sums, then the convolution's output gradient; each
        // convolution two: its partials over chunks, their sum), Adam (which also clears the gradients, stores the loss
        // and advances the cursor)
        Assert.Equal(18, captured.Count);
        Assert.Equal("AdamScheduledKernel", captured[^1].Kernel);
        foreach (var replayed in new[] { nextEpoch, after })
        {
            Assert.Equal(captured.Select(l => l.Kernel), replayed.Select(l => l.Kernel));
            for (var i = 0; i < captured.Count; i++)
            {
                Assert.Equal(captured[i].Config, replayed[i].Config);
                Assert.True(captured[i].Arguments.SequenceEqual(replayed[i].Arguments),
                    $"launch {i} ({captured[i].Kernel}) has other arguments.");
            }
        }

        // The check can fail: the host-driven step passes each step's slice of the order and Adam's count itself.
        Action hostStep(int step) => () =>
        {
            using var scope = loop.Workspace.Begin();
            var (input, labels) = loop.Data.Batch(step * BatchSize, BatchSize);
            var loss = loop.Model.CrossEntropyLoss(input, labels);
            loop.Adam.ZeroGrad();
            loss.Backward();
            loop.Adam.Step();
        };
        var first = Launches(device, hostStep(0));
        var second = Launches(device, hostStep(1));
        // The gather's order views differ only by their offset: views are told apart by it.
        Assert.Equal(("GatherKernel", "GatherKernel"), (first[0].Kernel, second[0].Kernel));
        Assert.False(first[0].Arguments.SequenceEqual(second[0].Arguments));
        Assert.Equal(first[0].Arguments[..2], second[0].Arguments[..2]); // the same images and labels
        Assert.Equal("AdamKernel", first[^1].Kernel);
        Assert.False(first[^1].Arguments.SequenceEqual(second[^1].Arguments)); // Adam's step size moved with t
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_resumed_epoch_starts_at_its_step_with_adams_count(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var loop = new ScheduledLoop(GpuDevices.Get(deviceName), seed: 42);
        loop.Schedule.StartEpoch(2, loop.Adam); // steps 2 and 3 remain, as after an interrupted run's checkpoint
        for (var step = 2; step < Steps; step++)
            loop.Step(Count(step));
        var values = loop.Losses.ToArray();
        Assert.Equal([0, 0], values[..2]); // nothing written before the resumed step
        Assert.All(values[2..], v => Assert.True(v > 0));
        Assert.Equal(2, loop.Adam.StepCount);
        Assert.Equal(Steps, loop.Schedule.Step);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Stepping_adam_or_the_schedule_out_of_turn_is_refused_with_a_reason(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var loop = new ScheduledLoop(device, seed: 43);
        var (adam, schedule, losses, data) = (loop.Adam, loop.Schedule, loop.Losses, loop.Data);
        schedule.StartEpoch(0, adam);
        using (loop.Workspace.Begin())
        {
            var loss = loop.Loss(BatchSize);
            loss.Backward();
            schedule.EndStep(loss, losses, adam);
        }
        // An optimiser step outside the schedule moves Adam past the table's entry for the next step: refused.
        adam.Step();
        var backend = (CudaBackend)device.Backend;
        using (loop.Workspace.Begin())
        {
            var loss = loop.Loss(BatchSize);
            loss.Backward();
            var launches = backend.Launches;
            var twice = Assert.Throws<InvalidOperationException>(() => schedule.EndStep(loss, losses, adam));
            Assert.Contains("call StartEpoch again", twice.Message);
            Assert.Equal(2, adam.StepCount); // the refused step changed nothing
            Assert.Equal((launches, 1), (backend.Launches, schedule.Step));
        }
        schedule.StartEpoch(1, adam);
        adam.LearningRate = 0.01f;
        using (loop.Workspace.Begin())
        {
            var loss = loop.Loss(BatchSize);
            loss.Backward();
            // Refused before anything is queued: no loss stored, the cursor where it was.
            var launches = backend.Launches;
            var viaSchedule = Assert.Throws<InvalidOperationException>(() => schedule.EndStep(loss, losses, adam));
            Assert.Contains("learning rate", viaSchedule.Message);
            Assert.Equal((launches, 1), (backend.Launches, schedule.Step));
            Assert.Equal(0f, losses.ToArray()[1]);
        }

        // Replayed steps advance the host's count and Adam's; past the epoch's end nothing more is taken.
        adam.LearningRate = 1e-3f;
        schedule.StartEpoch(0, adam);
        var count = adam.StepCount;
        for (var i = 0; i < Steps; i++) schedule.CountReplayedStep();
        Assert.Equal(count + Steps, adam.StepCount);
        Assert.Throws<InvalidOperationException>(schedule.CountReplayedStep);
        var loss2 = Tensor.Zeros(device, 1);
        Assert.Throws<InvalidOperationException>(() => schedule.EndStep(loss2, losses));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            data.Batch(schedule, BatchSize, BatchSize)); // step 4's batch would start at image 20 of 18
        Assert.Throws<ArgumentException>(() => schedule.EndStep(loss2, Tensor.Zeros(device, Steps - 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.StartEpoch(Steps, adam));
    }

    [Fact]
    public void A_schedule_and_a_captured_step_need_a_gpu_and_say_so()
    {
        var onCpu = Assert.Throws<ArgumentException>(() => new StepSchedule(Device.Cpu, 3));
        Assert.Contains("GPU device", onCpu.Message);
        var simulated = GpuDevices.Get(GpuDevices.Simulated);
        Assert.False(CapturedStep.IsSupported(simulated));
        Assert.False(CapturedStep.IsSupported(Device.Cpu));
        var refused = Assert.Throws<NotSupportedException>(() => CapturedStep.Capture(simulated, () => { }));
        Assert.Contains("CUDA GPU", refused.Message);
    }
}
