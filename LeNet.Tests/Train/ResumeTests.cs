using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using LeNet.Core.Serialization;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>Checkpoints every epoch, resuming to exactly the uninterrupted run's weights, and refusing unusable
/// checkpoints.</summary>
public class ResumeTests
{
    // 30 short epochs: after the first checkpoint the run has more than a second left by construction, so the test
    // kills it mid-run however fast the machine is (3 epochs ended 0.11-0.15 s after the first checkpoint).
    private const int Epochs = 30;
    private static readonly string[] Recipe = ["--limit", "640", "--test-limit", "100", "--epochs", $"{Epochs}",
        "--seed", "5", "--log-every", "1000", "--no-pictures"];

    [Fact]
    public async Task A_process_killed_after_a_checkpoint_and_resumed_ends_with_the_uninterrupted_weights_bit_for_bit()
    {
        using var folder = new TemporaryFolder();
        string interrupted = Path.Combine(folder.Path, "interrupted"),
            uninterrupted = Path.Combine(folder.Path, "uninterrupted");
        var checkpoint = Path.Combine(interrupted, TrainingCheckpoint.FileName);

        using (var process = StartTrainer(
            ["train", "--data", MnistTestData.Directory, "--output", interrupted, .. Recipe]))
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(checkpoint) && !process.HasExited &&
                clock.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(5);
            if (!File.Exists(checkpoint))
                Assert.Fail("No checkpoint appeared: " +
                    (process.HasExited ? process.StandardError.ReadToEnd()
                        : "the run is still going after 3 minutes."));
            Assert.False(process.HasExited, "the run ended before it could be killed mid-run");
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
        var saved = TrainingCheckpoint.Load(interrupted);
        Assert.InRange(saved.Epoch, 1, Epochs - 1);
        Assert.False(File.Exists(Path.Combine(interrupted, "model.safetensors")),
            "the killed run should not have finished");

        // Resumed as a user would: only --resume; the recipe and the output folder come from the checkpoint.
        using (var process = StartTrainer(["train", "--resume", interrupted, "--no-pictures"]))
        {
            var cancel = TestContext.Current.CancellationToken;
            var errors = process.StandardError.ReadToEndAsync(cancel);
            var output = await process.StandardOutput.ReadToEndAsync(cancel);
            await process.WaitForExitAsync(cancel);
            Assert.True(process.ExitCode == 0, await errors);
            Assert.Contains($"Resuming from {checkpoint}: {saved.Epoch} of {Epochs} epochs done", output);
            Assert.DoesNotContain($"Epoch [{saved.Epoch}/{Epochs}] took", output);
            Assert.Contains($"Epoch [{Epochs}/{Epochs}] took", output);
        }
        // The kill may land in a write (best.safetensors follows the checkpoint): its temporary file is what it leaves,
        // and the resumed run, claiming the folder, removes it.
        Assert.Empty(Directory.GetFiles(interrupted, "*.tmp"));

        var options = new TrainOptions
        {
            DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100, Epochs = Epochs, Seed = 5,
            LogEvery = 1000,
            OutputDirectory = uninterrupted, Pictures = false,
        };
        Assert.Equal(0, TrainCommand.Run(options, TextWriter.Null, TextWriter.Null));
        Assert.Equal(File.ReadAllBytes(Path.Combine(uninterrupted, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(interrupted, "model.safetensors")));

        // The metrics carry on too: every epoch, the first ones from before the kill.
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(interrupted, "metrics.json")));
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(uninterrupted, "metrics.json")));
        double[] Accuracies(JsonDocument d) => d.RootElement.GetProperty("epochs").EnumerateArray()
            .Select(e => e.GetProperty("testAccuracy").GetDouble()).ToArray();
        Assert.Equal(Accuracies(reference), Accuracies(metrics));
    }

    public static TheoryData<string, string> Damages => new()
    {
        { "truncated", "is truncated (" },
        { "corrupt", "is corrupt (its SHA-256 checksum does not match its contents)" },
        { "version", "has format version 7, but this build reads version 1" },
        {
            "model",
            "holds model lenet5, not lenet1998; resume with --arch lenet5, or train lenet1998 afresh without --resume."
        },
        { "seed", "was written by a run with --seed 0, but this run asks for 9" },
        { "missing", "There is no checkpoint at " },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void An_unusable_checkpoint_is_refused_with_one_sentence_and_nothing_changes(string damage, string expected)
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, TrainingCheckpoint.FileName);
        var bytes = File.ReadAllBytes(Path.Combine(TrainedModel.Directory, TrainingCheckpoint.FileName));
        switch (damage)
        {
            case "truncated": bytes = bytes[..(bytes.Length / 2)]; break;
            case "corrupt": bytes[bytes.Length / 2] ^= 1; break;
            case "version": BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 7); break;
        }
        if (damage != "missing") File.WriteAllBytes(path, bytes);
        var before = Snapshot(folder.Path);

        var options = new TrainOptions
        {
            Resume = folder.Path, OutputDirectory = folder.Path, DataDirectory = MnistTestData.Directory, Limit = 2000,
            TestLimit = TrainedModel.TestImages, Epochs = 3,
            Model = damage == "model" ? "lenet1998" : "lenet5", Seed = damage == "seed" ? 9 : 0,
        };
        var error = new StringWriter();
        var code = TrainCommand.Run(options, TextWriter.Null, error, given: new HashSet<string> { "--arch", "--seed" });

        Assert.Equal(1, code);
        var message = error.ToString().TrimEnd();
        Assert.Contains(expected, message);
        Assert.DoesNotContain('\n', message);
        Assert.EndsWith(".", message);
        Assert.Equal(before, Snapshot(folder.Path));
    }

    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => Convert.ToHexString(
                System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>The built LeNet.Train beside the tests (the test project references it), run with `dotnet`.</summary>
    internal static Process StartTrainer(IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var program = Path.Combine(AppContext.BaseDirectory, "LeNet.Train.dll");
        Assert.True(File.Exists(program),
            $"{program} is missing: build LeNet.Tests, which copies LeNet.Train beside it.");
        var (launcher, launcherArguments) = TrainerProcess.Launcher();
        var start = new ProcessStartInfo(launcher) { RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false };
        foreach (var argument in launcherArguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add(program);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return Process.Start(start)!;
    }
}
