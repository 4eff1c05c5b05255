using System.Text.Json;
using LeNet.Core.Models;
using LeNet.Train;
using LeNet.Train.Progress;
using LeNet.Train.Serve;

namespace LeNet.Tests.Train.Serve;

/// <summary>The events of a run as pages see them: every one live, and a bounded history for a page opened
/// late.</summary>
public sealed class LiveTrainingTests
{
    [Fact]
    public void A_page_opened_late_gets_the_steps_at_an_even_stride_and_an_open_page_gets_every_step()
    {
        var live = new LiveTraining(new LogLinesProgress(TextWriter.Null, 100), maxMegapixels: 16);
        var classes = Enumerable.Range(0, 10).Select(i => $"{i}").ToList();
        live.RunStarted("lenet5", ModelVariants.Create("lenet5"), classes, epochs: 1000, stepsPerEpoch: 25, 1, 0);
        using var early = live.Subscribe();
        const int steps = 25_003;
        for (var step = 1; step <= steps; step++)
            live.PointAdded(new StepPoint(step, (step - 1) / 25 + 1, Loss: 1.0 / step, LearningRate: 1e-3));
        using var late = live.Subscribe();

        var earlySteps = Steps(early, out _);
        Assert.Equal(Enumerable.Range(1, steps), earlySteps);

        var lateSteps = Steps(late, out var first);
        Assert.Equal("start", first);
        Assert.InRange(lateSteps.Count, LiveTraining.MaxSteps / 2, LiveTraining.MaxSteps);
        // Thinned evenly, from the first step to within one stride of the latest: the curve keeps its shape.
        var stride = lateSteps[1] - lateSteps[0];
        Assert.Equal(1, lateSteps[0]);
        Assert.Equal(Enumerable.Range(0, lateSteps.Count).Select(i => 1 + i * stride), lateSteps);
        Assert.InRange(steps - lateSteps[^1], 0, stride - 1);
    }

    private static List<int> Steps(LiveTraining.Subscription subscription, out string? firstType)
    {
        var steps = new List<int>();
        firstType = null;
        while (subscription.Events.TryRead(out var json))
        {
            var e = JsonDocument.Parse(json).RootElement;
            var type = e.GetProperty("type").GetString();
            firstType ??= type;
            if (type == "step") steps.Add(e.GetProperty("step").GetInt32());
        }
        return steps;
    }
}
