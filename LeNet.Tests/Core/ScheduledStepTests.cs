using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Training;

namespace LeNet.Tests.Core;

/// <summary>
/// A learning-rate schedule on the training step: each step k uses rate k, on the CPU and on a GPU device, where Adam
/// reads it from its per-step table (so captured steps replay with the right rate) and another optimiser gets it as a
/// launch argument. The reference: the same steps with the optimiser's own rate set by hand before each one.
/// </summary>
[Collection(GpuDeviceCollection.Name)]
public class ScheduledStepTests
{
    private const int Images = 40, Batch = 8, Epochs = 2; // 5 steps per epoch

    public static TheoryData<string, string> DevicesAndOptimisers()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in new[] { "cpu" }.Concat(GpuDevices.Names().Select(row => row.Data)))
            foreach (var optimizer in new[] { "adam", "adamw", "sgd" })
                data.Add(device, optimizer);
        return data;
    }

    private static Optimizer Create(string optimizer, Module model) => optimizer switch
    {
        "sgd" => new Sgd(model.Parameters(), 0.05f, momentum: 0.9f, nesterov: true),
        "adamw" => new Adam(model.Parameters(), 0.002f, weightDecay: 0.05f, decoupled: true),
        _ => new Adam(model.Parameters(), 0.002f),
    };

    /// <summary>Trains two epochs; with <paramref name="byHand"/> the rate is set before each step instead.</summary>
    private static (float[] Weights, float[] Losses) Train(Device device, string optimizerName,
        LearningRateSchedule schedule, bool byHand)
    {
        var rng = new Random(17);
        var images = Enumerable.Range(0, Images * 32 * 32).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var labels = Enumerable.Range(0, Images).Select(i => i % 10).ToArray();
        var model = new LeNet5(seed: 4).To(device);
        var optimizer = Create(optimizerName, model);
        // By hand the rate changes under a step a CUDA graph would replay unchanged: those steps launch one by one.
        using var step = TrainingStep.Create(model, optimizer, BatchSource.Create(device, images, labels, 1, 32, 32),
            Batch, cudaGraphs: !byHand);
        if (!byHand) step.Schedule = schedule;
        var losses = new List<float>();
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            var order = Enumerable.Range(0, Images).Reverse().ToArray();
            step.StartEpoch(order, 0, epoch);
            while (step.Step < step.StepsPerEpoch)
            {
                if (byHand)
                {
                    optimizer.LearningRate = schedule.RateAt(epoch * step.StepsPerEpoch + step.Step);
                    // On a GPU, Adam's table is written when an epoch starts: restarting it here at this step makes
                    // its rate the one just set.
                    step.StartEpoch(order, step.Step, epoch);
                }
                step.Run();
                losses.AddRange(step.ReadLosses().ToArray());
            }
        }
        return (model.Parameters().SelectMany(p => p.ToArray()).ToArray(), losses.ToArray());
    }

    [Theory]
    [MemberData(nameof(DevicesAndOptimisers))]
    public void Each_step_uses_its_rate_as_if_the_optimisers_rate_were_set_before_it(string deviceName,
        string optimizer)
    {
        var device = deviceName == "cpu" ? Device.Cpu : GpuDevices.Get(deviceName);
        if (deviceName != "cpu") GpuDevices.Require(deviceName);
        var schedule = LearningRateSchedule.Create("onecycle", optimizer == "sgd" ? 0.05 : 0.002,
            Epochs * Images / Batch, 0, Images / Batch);

        var scheduled = Train(device, optimizer, schedule, byHand: false);
        var byHand = Train(device, optimizer, schedule, byHand: true);

        Assert.Equal(byHand.Losses, scheduled.Losses);
        Assert.Equal(byHand.Weights, scheduled.Weights);
        // And the schedule mattered: a constant rate ends elsewhere.
        var constant = Train(device, optimizer, LearningRateSchedule.Create("constant", schedule.BaseRate, 1, 0, 1),
            byHand: false);
        Assert.NotEqual(constant.Weights, scheduled.Weights);
    }
}
