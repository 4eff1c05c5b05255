using System.Text.Json;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>Results on stdout, diagnostics on stderr, and --quiet for scripts: the program as a script runs
/// it.</summary>
public class StreamTests
{
    [Fact]
    public async Task Evaluate_json_stays_parseable_when_a_note_is_printed_and_quiet_drops_the_note()
    {
        // --device auto always says which device it chose: a note, which goes to stderr.
        string[] arguments = ["evaluate", "--model", TrainedModel.ModelFile, "--data", MnistTestData.Directory,
            "--test-limit", "50", "--json", "--device", "auto"];
        var (code, output, errors) = await Run(arguments);
        Assert.Equal(0, code);
        using (var json = JsonDocument.Parse(output)) Assert.True(json.RootElement.TryGetProperty("accuracy", out _));
        Assert.Contains("--device auto:", errors);

        var (quietCode, quietOutput, quietErrors) = await Run([.. arguments, "--quiet"]);
        Assert.Equal(0, quietCode);
        Assert.Equal(output, quietOutput);
        Assert.Empty(quietErrors);
    }

    [Fact]
    public void Evaluate_tables_go_to_stdout_and_the_device_note_to_stderr()
    {
        var (log, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, 50, json: false, null, log,
            error, device: "auto"));
        Assert.Contains("Accuracy on 50 images: ", log.ToString());
        Assert.DoesNotContain("--device auto", log.ToString());
        Assert.Contains("--device auto:", error.ToString());
    }

    [Fact]
    public async Task A_quiet_training_run_prints_nothing_and_leaves_its_results_in_the_output_folder()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "out");
        var (code, stdout, stderr) = await Run(
            ["train", "--quiet", "--data", MnistTestData.Directory, "--limit", "640", "--test-limit", "100", "--epochs",
                "1", "--no-pictures", "--output", output]);
        Assert.Equal(0, code);
        Assert.Empty(stdout);
        Assert.Empty(stderr);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        Assert.Equal(1, metrics.RootElement.GetProperty("epochs").GetArrayLength());
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
    }

    [Fact]
    public async Task A_training_run_whose_output_is_not_a_terminal_prints_the_seed_lines()
    {
        using var folder = new TemporaryFolder();
        var (code, stdout, stderr) = await Run(
            ["train", "--data", MnistTestData.Directory, "--limit", "640", "--test-limit", "100", "--epochs", "1",
                "--log-every", "5", "--no-pictures", "--output", folder.Path]);
        Assert.Equal(0, code);
        Assert.Empty(stderr);
        var lines = stdout.Split('\n', StringSplitOptions.TrimEntries);
        Assert.Contains("Epoch [1/1], Step [5/10], Loss: ", stdout);
        Assert.Contains(lines, l => l.StartsWith("Epoch [1/1] took ", StringComparison.Ordinal));
        Assert.Matches(@"(?m)^Accuracy of the network on the 100 test images: \d+\.\d\d %\r?$", stdout);
        Assert.DoesNotContain("\u001b[", stdout); // no escape sequences
    }

    [Fact]
    public async Task A_bad_command_line_says_so_on_stderr_only_with_exit_code_2()
    {
        var (code, stdout, stderr) = await Run(["train", "--epoch", "2"]);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.StartsWith("Unrecognized command or argument '--epoch'. Did you mean '--epochs'?", stderr);
    }

    private static async Task<(int Code, string Output, string Errors)> Run(string[] arguments)
    {
        using var process = ResumeTests.StartTrainer(arguments);
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output, await errors);
    }
}
