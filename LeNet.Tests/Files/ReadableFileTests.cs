using LeNet.Core.Files;
using LeNet.Mnist;
using LeNet.Tests.Mnist;

namespace LeNet.Tests.Files;

/// <summary>The one way files are read (issue 19, point 4): regular files only, each within a bound.</summary>
public class ReadableFileTests
{
    [Fact]
    public void A_regular_file_within_its_bound_is_read_and_one_over_it_is_refused()
    {
        using var folder = new TempDirectory();
        var path = folder.Combine("f.bin");
        File.WriteAllBytes(path, [1, 2, 3, 4]);

        Assert.Equal([1, 2, 3, 4], ReadableFile.ReadAllBytes(path, maxBytes: 4));
        var error = Assert.Throws<FileRefusedException>(() => ReadableFile.ReadAllBytes(path, maxBytes: 3));
        Assert.Equal("it holds 4 bytes, more than the 3 a file of its kind may have", error.Message);
    }

    [Fact]
    public void A_link_is_followed_to_its_regular_target()
    {
        Assert.SkipUnless(HostileFiles.Supported, "symbolic links need a Unix file system here");
        using var folder = new TempDirectory();
        File.WriteAllText(folder.Combine("target.txt"), "hello");
        File.CreateSymbolicLink(folder.Combine("link.txt"), "target.txt");

        Assert.Equal("hello", ReadableFile.ReadAllText(folder.Combine("link.txt"), maxBytes: 5));
        Assert.Throws<FileRefusedException>(() => ReadableFile.ReadAllText(folder.Combine("link.txt"), maxBytes: 4));
    }

    [Fact]
    public void A_fifo_is_refused_at_once_instead_of_blocking()
    {
        Assert.SkipUnless(HostileFiles.Supported, "FIFOs need a Unix system");
        using var folder = new TempDirectory();
        var fifo = HostileFiles.Fifo(folder.Combine("pipe"));

        var error = HostileFiles.ThrowsWithinTenSeconds(() => ReadableFile.ReadAllBytes(fifo, 1 << 20));

        Assert.Equal("it is a FIFO (named pipe), not a regular file",
            Assert.IsType<FileRefusedException>(error).Message);
    }

    [Fact]
    public void An_endless_device_and_a_link_to_it_are_refused_without_reading()
    {
        Assert.SkipUnless(HostileFiles.Supported, "/dev/zero needs a Unix system");
        using var folder = new TempDirectory();
        File.CreateSymbolicLink(folder.Combine("zero"), HostileFiles.EndlessDevice);

        foreach (var path in new[] { HostileFiles.EndlessDevice, folder.Combine("zero") })
        {
            var error = HostileFiles.ThrowsWithinTenSeconds(() => ReadableFile.ReadAllBytes(path, 1 << 20));
            Assert.Equal("it is a character device, not a regular file",
                Assert.IsType<FileRefusedException>(error).Message);
        }
    }

    [Fact]
    public void A_folder_and_a_missing_file_get_their_own_sentences()
    {
        using var folder = new TempDirectory();

        Assert.Equal("it is a folder, not a file",
            Assert.Throws<FileRefusedException>(() => ReadableFile.ReadAllBytes(folder.Path, 10)).Message);
        Assert.Throws<FileNotFoundException>(() => ReadableFile.ReadAllBytes(folder.Combine("none"), 10));
    }

    [Fact]
    public void An_idx_file_that_is_a_fifo_or_a_device_is_one_sentence_from_the_mnist_reader()
    {
        Assert.SkipUnless(HostileFiles.Supported, "FIFOs need a Unix system");
        using var folder = new TempDirectory();
        HostileFiles.Fifo(folder.Combine("train-images-idx3-ubyte"));
        File.CreateSymbolicLink(folder.Combine("train-labels-idx1-ubyte"), HostileFiles.EndlessDevice);

        var images = HostileFiles.ThrowsWithinTenSeconds(() => MnistFiles.Read(folder.Path, MnistPart.TrainImages));
        var labels = HostileFiles.ThrowsWithinTenSeconds(() => MnistFiles.Read(folder.Path, MnistPart.TrainLabels));

        Assert.Contains("cannot be read (it is a FIFO (named pipe), not a regular file)",
            Assert.IsType<MnistDataException>(images).Message);
        Assert.Contains("cannot be read (it is a character device, not a regular file)",
            Assert.IsType<MnistDataException>(labels).Message);
    }

    [Fact]
    public void A_classes_file_that_is_a_fifo_or_an_endless_device_is_refused_in_one_sentence()
    {
        Assert.SkipUnless(HostileFiles.Supported, "FIFOs need a Unix system");
        using var fifoFolder = new TempDirectory();
        using var zeroFolder = new TempDirectory();
        HostileFiles.Fifo(fifoFolder.Combine(ClassNamesFile.FileName));
        File.CreateSymbolicLink(zeroFolder.Combine(ClassNamesFile.FileName), HostileFiles.EndlessDevice);

        foreach (var folder in new[] { fifoFolder, zeroFolder })
        {
            var error = HostileFiles.ThrowsWithinTenSeconds(() => ClassNamesFile.Load(folder.Path));
            Assert.Contains("cannot be read (it is a", Assert.IsType<MnistDataException>(error).Message);
        }
    }
}
