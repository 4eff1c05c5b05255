using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Core.Training;

namespace LeNet.Tests.Core;

/// <summary>
/// Runs alone: kernels lend scratch buffers from a small shared pool, which concurrent tests could empty, and the
/// kernels' worker threads, which count here, would run other tests' loops too.
/// </summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// In a workspace, a LeNet-5 training step and an evaluation batch allocate nothing once warm, on the calling thread
/// and on every worker thread of the CPU kernels (<see cref="KernelThreadAllocations"/>).
/// </summary>
[Collection(nameof(AllocationCollection))]
public class AllocationTests
{
    private static (Tensor Input, int[] Labels) RandomBatch(int batch, int seed)
    {
        var (pixels, labels) = RandomImages(batch, seed);
        return (Tensor.FromArray(pixels, batch, 1, 32, 32), labels);
    }

    private static (float[] Pixels, int[] Labels) RandomImages(int count, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[count * 32 * 32];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
        return (pixels, Enumerable.Range(0, count).Select(_ => random.Next(10)).ToArray());
    }

    /// <summary>
    /// The trainer's training step of LeNet-5 with Adam over <paramref name="images"/> random images, in file order.
    /// </summary>
    private static (TrainingStep Step, int[] Order) TrainingStepOver(int images, int seed,
        LeNet.Kernels.Augmentation? augmentation = null)
    {
        var model = new LeNet5(seed: seed);
        var (pixels, labels) = RandomImages(images, 10 * seed);
        var source = BatchSource.Create(Device.Cpu, pixels, labels, 1, 32, 32);
        source.SetAugmentation(augmentation, seed);
        var step = TrainingStep.Create(model, new Adam(model.Parameters()), source, 64);
        return (step, Enumerable.Range(0, images).ToArray());
    }

    /// <summary>An epoch of the step: every step run, the losses read.</summary>
    private static float Epoch(TrainingStep step, int[] order)
    {
        step.StartEpoch(order);
        while (step.Step < step.StepsPerEpoch) step.Run();
        return step.ReadLosses()[^1];
    }

    /// <summary>
    /// Warm: <paramref name="epochs"/> epochs, then one on each kernel thread by itself (a step's loops may give a late
    /// worker no part, and it would size its scratch only when it first takes one), then one more as the measured
    /// ones run, all threads together.
    /// </summary>
    private static void Warm(TrainingStep step, int[] order, int epochs)
    {
        for (var warm = 0; warm < epochs; warm++) Epoch(step, order);
        KernelThreadAllocations.OnEveryThread(() => Epoch(step, order));
        Epoch(step, order);
    }

    /// <summary>Bytes allocated so far by the calling thread and the kernels' worker threads.</summary>
    private static long AllocatedBytes() => KernelThreadAllocations.Total();

    private static void AssertNothingAllocatedSince(long before)
    {
        var bytes = AllocatedBytes() - before;
        if (bytes != 0) Assert.Fail($"{bytes:N0} bytes allocated ({KernelThreadAllocations.LastInterval()}).");
    }

    [Fact]
    public void A_training_step_allocates_nothing_after_the_first()
    {
        var (step, order) = TrainingStepOver(64, seed: 3); // one batch an epoch
        Warm(step, order, epochs: 10);

        var losses = new float[5];
        var allocated = new long[losses.Length];
        string? first = null; // which threads allocated, in the first step that did
        for (var i = 0; i < losses.Length; i++)
        {
            var before = AllocatedBytes();
            losses[i] = Epoch(step, order);
            allocated[i] = AllocatedBytes() - before;
            if (allocated[i] != 0) first ??= $" Step {i + 1}: {KernelThreadAllocations.LastInterval()}.";
        }

        Assert.True(allocated.All(bytes => bytes == 0),
            $"Bytes allocated by each step: {string.Join(", ", allocated)}.{first}");
        Assert.True(losses[^1] < losses[0], $"Training on one batch must lower its loss: {string.Join(", ", losses)}.");
    }

    [Fact]
    public void An_augmented_training_step_allocates_nothing_after_the_first()
    {
        var (step, order) = TrainingStepOver(64 + 17, seed: 6, new LeNet.Kernels.Augmentation(-1f, Noise: 0.1f));
        Warm(step, order, epochs: 2);

        for (var epoch = 3; epoch < 6; epoch++)
        {
            var before = AllocatedBytes();
            step.Data.SetEpoch(epoch);
            Epoch(step, order);
            AssertNothingAllocatedSince(before);
        }
    }

    [Fact]
    public void A_smaller_last_batch_does_not_evict_the_full_batch_buffers()
    {
        var (step, order) = TrainingStepOver(64 + 17, seed: 4); // a full batch and a last one of 17
        Warm(step, order, epochs: 2);

        var before = AllocatedBytes();
        Epoch(step, order);
        AssertNothingAllocatedSince(before);
    }

    [Fact]
    public void Inference_in_evaluation_mode_allocates_nothing_once_every_kernel_thread_has_run_a_batch()
    {
        var model = new LeNet5(seed: 5);
        model.Eval();
        var workspace = new Workspace();
        var (input, _) = RandomBatch(100, 50);
        float[] first;
        using (GradientTape.NoGrad())
        {
            using (workspace.Begin()) first = model.Forward(input).ToArray();
            // A batch's loops may give a late worker no part; each thread runs one batch by itself instead.
            KernelThreadAllocations.OnEveryThread(() =>
            {
                using var noGrad = GradientTape.NoGrad();
                using var scope = workspace.Begin();
                model.Forward(input);
            });
            using (workspace.Begin()) model.Forward(input); // and once more as the measured batches run
            var before = AllocatedBytes();
            for (var i = 0; i < 3; i++)
            {
                using var scope = workspace.Begin();
                model.Forward(input);
            }
            AssertNothingAllocatedSince(before);
            using (workspace.Begin()) Assert.Equal(first, model.Forward(input).ToArray());
        }
    }
}
