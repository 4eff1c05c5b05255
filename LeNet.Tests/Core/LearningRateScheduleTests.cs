using LeNet.Core.Optim;

namespace LeNet.Tests.Core;

/// <summary>
/// The schedules against PyTorch's formulas: the expected rates were computed apart from this code, in Python, from
/// the closed forms in torch.optim.lr_scheduler (OneCycleLR's two cosine phases with pct_start 0.3, div_factor 25,
/// final_div_factor 1e4; CosineAnnealingLR with eta_min 0; StepLR), as float64 then rounded to float32.
/// </summary>
public class LearningRateScheduleTests
{
    [Theory]
    [InlineData(0, 0.0003999999999999993)] // max_lr / div_factor
    [InlineData(10, 0.002951639484641007)]
    [InlineData(29, 0.01)] // the peak: step pct_start * total - 1
    [InlineData(30, 0.009994965352845242)]
    [InlineData(50, 0.00793893450575732)]
    [InlineData(99, 4e-08)] // initial / final_div_factor
    [InlineData(150, 4e-08)] // past the end: the last rate
    public void OneCycle_follows_pytorchs_two_cosine_phases(int step, double expected) =>
        Assert.Equal((float)expected, LearningRateSchedule.Create("onecycle", 0.01, 100, 0, 10).RateAt(step));

    [Theory]
    [InlineData(0, 0.001)]
    [InlineData(1, 0.0009997532801828658)]
    [InlineData(50, 0.0005)]
    [InlineData(99, 2.467198171342e-07)]
    public void Cosine_anneals_per_step_from_the_base_rate_towards_zero(int step, double expected) =>
        Assert.Equal((float)expected, LearningRateSchedule.Create("cosine", 0.001, 100, 0, 10).RateAt(step));

    [Theory]
    [InlineData(0, 0.0001)]
    [InlineData(4, 0.0005)]
    [InlineData(9, 0.001)]
    [InlineData(10, 0.001)]
    [InlineData(55, 0.0005)]
    [InlineData(99, 3.0458649045211895e-07)]
    public void A_warmup_rises_linearly_and_the_schedule_runs_over_the_steps_after_it(int step, double expected) =>
        Assert.Equal((float)expected, LearningRateSchedule.Create("cosine", 0.001, 100, 10, 10).RateAt(step));

    [Theory]
    [InlineData(0, 0.001)]
    [InlineData(937, 0.001)]
    [InlineData(1876, 0.0005)] // epoch 2: the first decay with step_size 2
    [InlineData(3751, 0.0005)]
    [InlineData(3752, 0.00025)]
    public void Step_decays_by_gamma_every_few_epochs(int step, double expected) =>
        Assert.Equal((float)expected,
            LearningRateSchedule.Create("step", 0.001, 9380, 0, 938, stepEpochs: 2, gamma: 0.5).RateAt(step));

    [Fact]
    public void Constant_is_the_base_rate_at_every_step()
    {
        var schedule = LearningRateSchedule.Create("constant", 0.001, 9380, 0, 938);
        Assert.All(new[] { 0, 1, 5000, 9379, 20000 }, step => Assert.Equal(0.001f, schedule.RateAt(step)));
    }

    [Fact]
    public void Schedules_that_cannot_be_are_refused_in_one_sentence()
    {
        Assert.Equal("There is no schedule linear; choose one of constant, step, cosine, onecycle.",
            Assert.Throws<ArgumentException>(() => LearningRateSchedule.Create("linear", 0.001, 10, 0, 1)).Message);
        Assert.StartsWith("onecycle warms up by itself",
            Assert.Throws<ArgumentException>(() => LearningRateSchedule.Create("onecycle", 0.01, 10, 2, 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Create("cosine", 0.001, 10, 10, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Create("cosine", double.NaN, 10, 0, 1));
    }
}
