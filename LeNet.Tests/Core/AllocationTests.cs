using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;

namespace LeNet.Tests.Core;

/// <summary>Runs alone: kernels lend scratch buffers from a small shared pool, which concurrent tests could empty.</summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>In a workspace, a LeNet-5 training step and an evaluation batch allocate nothing once warm.</summary>
[Collection(nameof(AllocationCollection))]
public class AllocationTests
{
    private static (Tensor Input, int[] Labels) RandomBatch(int batch, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[batch * 32 * 32];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
        return (Tensor.FromArray(pixels, batch, 1, 32, 32), Enumerable.Range(0, batch).Select(_ => random.Next(10)).ToArray());
    }

    private static float Step(LeNet5 model, Adam optimizer, Workspace workspace, Tensor input, int[] labels)
    {
        using var scope = workspace.Begin();
        var loss = F.CrossEntropy(model.Forward(input), labels);
        optimizer.ZeroGrad();
        loss.Backward();
        optimizer.Step();
        return loss.Item();
    }

    [Fact]
    public void A_training_step_allocates_nothing_after_the_first()
    {
        var model = new LeNet5(seed: 3);
        var optimizer = new Adam(model.Parameters());
        var workspace = new Workspace();
        var (input, labels) = RandomBatch(64, 30);
        for (var warm = 0; warm < 10; warm++) Step(model, optimizer, workspace, input, labels);

        var losses = new float[5];
        var allocated = new long[losses.Length];
        for (var i = 0; i < losses.Length; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            losses[i] = Step(model, optimizer, workspace, input, labels);
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.True(allocated.All(bytes => bytes == 0), $"Bytes allocated by each step: {string.Join(", ", allocated)}.");
        Assert.True(losses[^1] < losses[0], $"Training on one batch must lower its loss: {string.Join(", ", losses)}.");
    }

    [Fact]
    public void A_smaller_last_batch_does_not_evict_the_full_batch_buffers()
    {
        var model = new LeNet5(seed: 4);
        var optimizer = new Adam(model.Parameters());
        var workspace = new Workspace();
        var (full, fullLabels) = RandomBatch(64, 40);
        var (last, lastLabels) = RandomBatch(17, 41);
        for (var warm = 0; warm < 2; warm++)
        {
            Step(model, optimizer, workspace, full, fullLabels);
            Step(model, optimizer, workspace, last, lastLabels);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        Step(model, optimizer, workspace, full, fullLabels);
        Step(model, optimizer, workspace, last, lastLabels);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Inference_in_evaluation_mode_allocates_nothing_after_the_first_batch()
    {
        var model = new LeNet5(seed: 5);
        model.Eval();
        var workspace = new Workspace();
        var (input, _) = RandomBatch(100, 50);
        float[] first;
        using (GradientTape.NoGrad())
        {
            using (workspace.Begin()) first = model.Forward(input).ToArray();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 3; i++)
            {
                using var scope = workspace.Begin();
                model.Forward(input);
            }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            using (workspace.Begin()) Assert.Equal(first, model.Forward(input).ToArray());
        }
    }
}
