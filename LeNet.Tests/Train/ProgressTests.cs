using LeNet.Train;
using LeNet.Train.Progress;
using Spectre.Console;

namespace LeNet.Tests.Train;

/// <summary>The live bar's counts and estimates, and when the plain seed lines are printed instead.</summary>
public class ProgressTests
{
    [Theory]
    [InlineData(false, true, "xterm-256color", null, true)]
    [InlineData(false, true, "xterm-256color", "", true)] // no-color.org: an empty NO_COLOR does not count
    [InlineData(true, true, "xterm-256color", null, false)] // redirected: a log file, CI, a pipe
    [InlineData(false, false, "xterm-256color", null, false)]
    [InlineData(false, true, "dumb", null, false)]
    [InlineData(false, true, "xterm-256color", "1", false)]
    public void The_live_bar_is_shown_only_on_a_terminal_that_can_show_it(bool redirected, bool interactive,
        string? term, string? noColor, bool live) =>
        Assert.Equal(live, TrainingProgress.WantsLiveBar(redirected, interactive, term, noColor));

    [Fact]
    public void Quiet_and_redirected_runs_print_the_seed_lines_or_nothing()
    {
        // The test host's output is not a terminal: the seed's lines, whatever the environment says.
        var log = new StringWriter();
        var progress = TrainingProgress.For(log, logEvery: 2);
        Assert.IsType<LogLinesProgress>(progress);
        progress.Run(() =>
        {
            progress.EpochStarted(1, 10, 4, 256);
            for (var step = 1; step <= 4; step++) progress.StepEnded(step, 0.5f / step, 64 * step);
        });
        Assert.Equal(["Epoch [1/10], Step [2/4], Loss: 0.2500", "Epoch [1/10], Step [4/4], Loss: 0.1250"],
            log.ToString().TrimEnd().Split(Environment.NewLine));
    }

    [Fact]
    public void The_window_ignores_the_warm_up_and_gives_no_rate_until_it_spans_enough_time()
    {
        var window = new ThroughputWindow(warmUpSeconds: 1, windowSeconds: 2, minimumSpan: 0.5);
        // Slow first steps (compiling): 64 images each 0.5 s, then 64 images each 0.01 s.
        var (time, images) = (0.0, 0L);
        for (var i = 0; i < 3; i++) window.Add(time += 0.5, images += 64);
        Assert.Null(window.Rate);
        for (var i = 0; i < 30; i++) window.Add(time += 0.01, images += 64);
        Assert.Null(window.Rate); // 0.3 s of fast steps: too little to tell
        for (var i = 0; i < 300; i++) window.Add(time += 0.01, images += 64);
        Assert.Equal(6400, window.Rate!.Value, 1e-6); // the steady speed, not the average with the slow start
        window.Pause();
        Assert.Null(window.Rate);
    }

    [Fact]
    public void The_bar_counts_the_steps_of_the_epoch_and_estimates_the_time_left_once_the_speed_is_known()
    {
        var bar = new LiveProgress(Console());
        bar.EpochStarted(1, 2, 938, 60_000);
        bar.StepEnded(1, 2.3f, 64);
        Assert.StartsWith("1/938  loss 2.3000  ", bar.Status);
        Assert.Null(bar.Left); // no estimate from one step
        Assert.EndsWith("measuring speed", bar.Status);

        // Steps of at least 3 ms: 469 of them outlast the warm-up and the shortest window.
        for (var step = 2; step <= 469; step++)
        {
            Thread.Sleep(3);
            bar.StepEnded(step, 0.1f, 64 * step);
        }
        Assert.StartsWith("469/938  loss ", bar.Status);
        Assert.NotNull(bar.Left);
        Assert.True(bar.Rate > 0);
        // What is left: half of this epoch and all of the next, at the speed shown.
        var expected = (60_000 - 64 * 469 + 60_000) / bar.Rate;
        Assert.Equal(expected, bar.Left!.Value.TotalSeconds, expected * 1e-6 + 1e-3);
        Assert.Matches(@"^469/938  loss \d\.\d{4}  [\d,]+ img/s  \d+:\d\d left$", bar.Status);
    }

    [Fact]
    public void A_finished_epochs_row_gives_the_accuracy_with_two_decimals_as_the_final_line_does()
    {
        var bar = new LiveProgress(Console());
        bar.EpochStarted(1, 1, 94, 6000);
        bar.StepEnded(94, 0.15f, 6000);
        bar.EpochEnded(new EpochMetrics(1, 0.69, 8754.3, 0.1482, 96.2), "summary");
        Assert.Equal("loss 0.1482  8,754 img/s  0.69 s  test 96.20 %", bar.Status);
    }

    [Fact]
    public void The_live_bar_draws_its_rows_on_a_console()
    {
        var output = new StringWriter();
        var bar = new LiveProgress(Console(output, live: true));
        bar.Run(() =>
        {
            bar.EpochStarted(1, 1, 4, 256);
            for (var step = 1; step <= 4; step++) bar.StepEnded(step, 0.5f, 64 * step);
            bar.EpochEnded(new EpochMetrics(1, 0.5, 512, 0.5, 90), "summary");
        });
        Assert.Contains("Epoch 1/1", output.ToString());
        Assert.Contains("test 90.00 %", output.ToString());
    }

    /// <summary>A console writing to <paramref name="output"/>, as a terminal (drawing the live rows) when
    /// <paramref name="live"/>.</summary>
    private static IAnsiConsole Console(TextWriter? output = null, bool live = false) =>
        AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = live ? AnsiSupport.Yes : AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Interactive = live ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output ?? TextWriter.Null),
        });
}
