using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// Two trainers cannot write to the same output folder: the first holds an exclusive lock on a file there for its
/// whole run; the second is refused in one sentence naming the folder, before any work.
/// </summary>
public class OutputFolderTests
{
    private static TrainOptions Options(string output) =>
        new() { DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100, Epochs = 1,
            OutputDirectory = output, Pictures = false };

    [Fact]
    public void A_second_run_on_a_folder_in_use_is_refused_before_any_work_and_changes_nothing()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(Path.Combine(folder.Path, "model.safetensors"), "the first run's");
        using (var first = OutputFolder.Claim(folder.Path))
        {
            var (log, error) = (new StringWriter(), new StringWriter());
            Assert.Equal(1, TrainCommand.Run(Options(folder.Path), log, error));
            Assert.Equal(
                $"Another training run is writing to the folder {folder.Path} (it holds {OutputFolder.LockFileName} " +
                    "there); wait for it to end, or choose another --output folder.",
                error.ToString().TrimEnd());
            Assert.Empty(log.ToString());
            Assert.Equal("the first run's", File.ReadAllText(Path.Combine(folder.Path, "model.safetensors")));
            Assert.True(File.Exists(Path.Combine(folder.Path, OutputFolder.LockFileName)));
        }
        // The first run's end removes the lock file and frees the folder.
        Assert.False(File.Exists(Path.Combine(folder.Path, OutputFolder.LockFileName)));
        using (OutputFolder.Claim(folder.Path)) { }
    }

    [Fact]
    public void A_lock_file_left_by_a_killed_run_does_not_block_the_next()
    {
        using var folder = new TemporaryFolder();
        var lockFile = Path.Combine(folder.Path, OutputFolder.LockFileName);
        File.WriteAllText(lockFile, "LeNet.Train, process 1, killed long ago\n");
        using (var claim = OutputFolder.Claim(folder.Path))
            Assert.Equal(folder.Path, claim.Path);
        Assert.False(File.Exists(lockFile));
    }

    [Fact]
    public void A_missing_output_folder_is_created_when_its_parent_exists_and_removed_again_if_the_run_leaves_it_empty()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "new");
        using (var claim = OutputFolder.Claim(output))
            Assert.True(Directory.Exists(output));
        Assert.False(Directory.Exists(output));

        using (OutputFolder.Claim(output))
            File.WriteAllText(Path.Combine(output, "metrics.json"), "{}");
        Assert.Equal(["metrics.json"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_second_training_process_on_the_folder_of_a_running_one_is_refused_in_one_sentence()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var folder = new TemporaryFolder();
        // 100 epochs: the first run holds the folder for many seconds by construction (it is stopped below), so the
        // second one meets it running however fast the machine is.
        string[] recipe = ["train", "--data", MnistTestData.Directory, "--output", folder.Path, "--limit", "6400",
            "--test-limit", "100", "--epochs", "100", "--log-every", "1", "--no-pictures"];
        using var first = TrainerProcess.Start(recipe);
        Assert.True(await first.WaitForLine("Loss:", cancel), "the first run printed no loss line");

        using (var second = TrainerProcess.Start(recipe))
        {
            var (code, output, errors) = await second.WaitForExit(cancel);
            Assert.Equal(1, code);
            Assert.Equal(
                $"Another training run is writing to the folder {folder.Path} (it holds {OutputFolder.LockFileName} " +
                    "there); wait for it to end, or choose another --output folder.",
                errors.TrimEnd());
            Assert.Empty(output);
        }

        // The first run was not disturbed: stopped now, it saves its step and frees the folder.
        first.Signal(TrainerProcess.Sigint);
        var (firstCode, _, firstErrors) = await first.WaitForExit(cancel);
        Assert.True(firstCode == StopSignals.SigintExitCode, firstErrors);
        Assert.True(TrainingCheckpoint.Load(folder.Path).OptimizerSteps > 0);
        Assert.False(File.Exists(Path.Combine(folder.Path, OutputFolder.LockFileName)));
    }
}
