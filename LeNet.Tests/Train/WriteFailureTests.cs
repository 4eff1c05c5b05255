using LeNet.Core.Serialization;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// A write that fails (disk full, permission denied, a target that cannot be replaced) leaves the previous file intact,
/// leaves no temporary file, and says so in one sentence.
/// </summary>
public class WriteFailureTests
{
    private static void AssertOnlyFiles(string folder, params string[] names) =>
        Assert.Equal(names.Order(), Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order());

    [Fact]
    public void A_write_that_fails_midway_keeps_the_previous_file_removes_the_temporary_one_and_says_so()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "checkpoint.lenetckpt");
        AtomicFile.WriteAllText(path, "the previous checkpoint");
        var error = Assert.Throws<FileWriteException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100_000]);
            throw new IOException("No space left on device");
        }));
        Assert.Equal(
            $"Could not write {path} (No space left on device), so the checkpoint.lenetckpt that was " +
                "there is unchanged; " +
                     "free some space or fix the folder's permissions, and try again.", error.Message);
        Assert.Equal("the previous checkpoint", File.ReadAllText(path));
        AssertOnlyFiles(folder.Path, "checkpoint.lenetckpt");
    }

    [Fact]
    public void A_target_that_cannot_be_replaced_is_refused_and_the_temporary_file_removed()
    {
        using var folder = new TemporaryFolder();
        // A folder where the file should go: renaming a file over it would fail for root too, so it is refused first.
        var path = Path.Combine(folder.Path, "model.safetensors");
        Directory.CreateDirectory(Path.Combine(path, "inside"));
        var error = Assert.Throws<FileWriteException>(() => AtomicFile.WriteAllText(path, "new"));
        Assert.Equal($"Cannot write {path}: it is a folder; name a file in it; nothing was written.", error.Message);
        Assert.True(Directory.Exists(Path.Combine(path, "inside")));
        AssertOnlyFiles(folder.Path, "model.safetensors");
    }

    [Fact]
    public void A_read_only_folder_keeps_its_files_and_the_write_is_refused()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "metrics.json");
        AtomicFile.WriteAllText(path, "old");
        // Root writes into read-only folders (and Windows has no such mode): there this case cannot happen, and is
        // reported as skipped rather than replaced by another (a folder in the way is the test above).
        if (!TemporaryFolder.MakeReadOnly(folder.Path))
            Assert.Skip(TemporaryFolder.ReadOnlyUnavailable);
        try
        {
            var error = Assert.Throws<FileWriteException>(() => AtomicFile.WriteAllText(path, "new"));
            Assert.Contains(path, error.Message);
            Assert.Equal("old", File.ReadAllText(path));
        }
        finally
        {
            TemporaryFolder.MakeWritable(folder.Path);
        }
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
    }

    [Fact]
    public async Task A_run_that_cannot_write_its_checkpoint_says_so_leaving_the_last_checkpoint_and_model_intact()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var folder = new TemporaryFolder();
        string[] recipe = ["--data", MnistTestData.Directory, "--limit", "640", "--test-limit", "100", "--seed", "3",
            "--no-pictures"];
        using (var first = TrainerProcess.Start(["train", "--output", folder.Path, "--epochs", "1", .. recipe]))
        {
            var (firstCode, _, firstErrors) = await first.WaitForExit(cancel);
            Assert.True(firstCode == 0, firstErrors);
        }
        var before = Directory.GetFiles(folder.Path).ToDictionary(f => f, File.ReadAllBytes);
        Assert.True(new FileInfo(Path.Combine(folder.Path, TrainingCheckpoint.FileName)).Length > 600 << 10);

        // Files may not grow past 500 KiB, as on a nearly full disk: the 744 KB checkpoint of epoch 2 cannot be
        // written.
        using var second = TrainerProcess.StartWithFileSizeLimit(500,
            ["train", "--resume", folder.Path, "--epochs", "2", "--no-pictures"]);
        var (code, output, errors) = await second.WaitForExit(cancel);

        Assert.True(code == 1, $"exit code {code}: {errors}");
        var checkpoint = Path.Combine(folder.Path, TrainingCheckpoint.FileName);
        Assert.Matches(
            $@"^Could not write {System.Text.RegularExpressions.Regex.Escape(checkpoint)} \(.+\), so the " +
                @"checkpoint.lenetckpt that was there is unchanged; free some space or fix the folder's permissions, " +
                @"and try again\.$",
            errors.TrimEnd());
        Assert.Contains("Resuming from", output);
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(folder.Path).Order());
        Assert.All(before, file => Assert.Equal(file.Value, File.ReadAllBytes(file.Key)));
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path, ".*"));
    }
}
