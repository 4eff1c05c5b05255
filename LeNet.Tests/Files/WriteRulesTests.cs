using LeNet.Core.Files;
using LeNet.Core.Serialization;
using LeNet.Tests.Train;

namespace LeNet.Tests.Files;

/// <summary>
/// The one way the program writes a file (issue 19, point 2): a regular file or a new one atomically, a character
/// device or a FIFO straight through and never replaced, a folder or a symbolic link refused with its target untouched.
/// Devices: only /dev/null is written; FIFOs are made in a temporary folder and always have a reader.
/// </summary>
public class WriteRulesTests
{
    private const string Text = "what the program writes\n";

    /// <summary>
    /// Runs <paramref name="write"/>, which writes to <paramref name="fifo"/>; returns what a reader of the FIFO got.
    /// Held open for reading and writing, the FIFO has a writer, so the reader's open returns at once, and a reader, so
    /// the write's open does too; once both let go the reader sees the end, so nothing hangs, even a write that never
    /// comes (the 10 s guard is the backstop).
    /// </summary>
    public static byte[] ReadWhileWriting(string fifo, Action write)
    {
        var keep = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0);
        var reader = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0);
        var read = Task.Factory.StartNew(() =>
        {
            using var received = new MemoryStream();
            reader.CopyTo(received);
            reader.Dispose();
            return received.ToArray();
        }, TaskCreationOptions.LongRunning);
        try
        {
            write();
        }
        finally
        {
            keep.Dispose();
        }
        return HostileFiles.WithinTenSeconds(() => read.Result);
    }

    [Fact]
    public void A_fifo_is_written_straight_through_and_stays_a_fifo()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "FIFOs are told from files on Linux");
        using var folder = new TemporaryFolder();
        var fifo = HostileFiles.Fifo(Path.Combine(folder.Path, "metrics.json"));

        var received = ReadWhileWriting(fifo, () => AtomicFile.WriteAllText(fifo, Text));

        Assert.Equal(Text, System.Text.Encoding.UTF8.GetString(received));
        Assert.Equal(ReadableFile.FileKind.Fifo, ReadableFile.Kind(fifo, followLinks: false));
        Assert.Equal(["metrics.json"], Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Dev_null_takes_the_write_and_stays_a_character_device()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "devices are told from files on Linux");
        var before = ReadableFile.Identity("/dev/null", followLinks: false);

        AtomicFile.WriteAllText("/dev/null", Text);

        Assert.Equal(ReadableFile.FileKind.CharacterDevice, ReadableFile.Kind("/dev/null", followLinks: false));
        Assert.Equal(before, ReadableFile.Identity("/dev/null", followLinks: false));
        Assert.True(AtomicFile.IsWrittenThrough("/dev/null"));
    }

    [Fact]
    public void A_symbolic_link_to_a_file_is_refused_and_neither_the_link_nor_its_target_changes()
    {
        Assert.SkipUnless(HostileFiles.Supported, "symbolic links need a Unix file system here");
        using var folder = new TemporaryFolder();
        var target = Path.Combine(folder.Path, "precious.txt");
        File.WriteAllText(target, "precious\n");
        var link = Path.Combine(folder.Path, "model.safetensors");
        File.CreateSymbolicLink(link, target);

        var refusal = Assert.Throws<FileWriteException>(() => AtomicFile.WriteAllText(link, Text));

        Assert.Equal($"Cannot write {link}: it is a symbolic link (to {target}), which is never written through; " +
            "name the file it points to, or remove the link; nothing was written.", refusal.Message);
        Assert.Equal("precious\n", File.ReadAllText(target));
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal(["model.safetensors", "precious.txt"],
            Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_dangling_symbolic_link_is_refused_and_nothing_is_created_where_it_points()
    {
        Assert.SkipUnless(HostileFiles.Supported, "symbolic links need a Unix file system here");
        using var folder = new TemporaryFolder();
        var target = Path.Combine(folder.Path, "elsewhere.json");
        var link = Path.Combine(folder.Path, "metrics.json");
        File.CreateSymbolicLink(link, target);

        Assert.Throws<FileWriteException>(() => AtomicFile.WriteAllText(link, Text));

        Assert.False(File.Exists(target));
        Assert.Equal(target, new FileInfo(link).LinkTarget);
    }

    [Fact]
    public void A_folder_is_refused_and_stays_as_it_was()
    {
        using var folder = new TemporaryFolder();
        var inTheWay = Directory.CreateDirectory(Path.Combine(folder.Path, "metrics.json")).FullName;

        var refusal = Assert.Throws<FileWriteException>(() => AtomicFile.WriteAllText(inTheWay, Text));

        Assert.Equal($"Cannot write {inTheWay}: it is a folder; name a file in it; nothing was written.",
            refusal.Message);
        Assert.Empty(Directory.GetFileSystemEntries(inTheWay));
        Assert.Equal(["metrics.json"], Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_regular_file_is_replaced_atomically_and_no_temporary_file_stays()
    {
        using var folder = new TemporaryFolder();
        var file = Path.Combine(folder.Path, "metrics.json");
        File.WriteAllText(file, "old");
        var before = ReadableFile.Identity(file);

        AtomicFile.WriteAllText(file, Text);

        Assert.Equal(Text, File.ReadAllText(file));
        // Renamed over, not written into: a reader holding the old file still sees it whole.
        if (before is not null) Assert.NotEqual(before, ReadableFile.Identity(file));
        Assert.Equal(["metrics.json"], Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void The_standard_streams_are_written_through_by_their_names()
    {
        Assert.True(AtomicFile.IsStandardOutput("-"));
        Assert.True(AtomicFile.IsStandardOutput("/dev/stdout"));
        Assert.False(AtomicFile.IsStandardOutput("./-"));
        Assert.True(AtomicFile.IsWrittenThrough("/dev/stderr"));
        Assert.Null(AtomicFile.Refusal("-"));
        Assert.Equal("an empty path names no file; name the file to write", AtomicFile.Refusal(""));
    }

    [Fact]
    public void Temporary_names_are_told_exactly()
    {
        var made = AtomicFile.TemporaryName("checkpoint.lenetckpt");
        Assert.Matches(@"^\.checkpoint\.lenetckpt\.[0-9a-f]{32}\.tmp$", made);
        Assert.True(AtomicFile.IsTemporaryName(made));
        const string guid = "0123456789abcdef0123456789abcdef";
        Assert.True(AtomicFile.IsTemporaryName($".model.safetensors.{guid}.tmp"));
        foreach (var other in new[]
        {
            $"model.safetensors.{guid}.tmp", $".model.safetensors.{guid[..31]}.tmp", $"..{guid}.tmp",
            $".model.safetensors.{guid.ToUpperInvariant()}.tmp", $".model.safetensors.{guid}.tmp.bak",
            $".model.safetensors.{guid}.tmp\n", $".model.safetensors.{guid[..31]}g.tmp", ".notes.tmp",
        })
            Assert.False(AtomicFile.IsTemporaryName(other), other);
    }
}
