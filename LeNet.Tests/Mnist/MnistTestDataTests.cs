using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>How the tests find MNIST on CI (shared/mnist) and on a fresh clone without it (issue 19).</summary>
public class MnistTestDataTests
{
    private static string Folder(string path, bool withFiles)
    {
        Directory.CreateDirectory(path);
        if (withFiles)
            foreach (var part in MnistFiles.AllParts)
                File.WriteAllBytes(Path.Combine(path, MnistFiles.FileName(part) + ".gz"), [0x1f, 0x8b]);
        return path;
    }

    private static string Repository(TempDirectory temp)
    {
        var root = Folder(temp.Combine("clone"), withFiles: false);
        File.WriteAllText(Path.Combine(root, "LeNet.sln"), "");
        return Folder(Path.Combine(root, "LeNet.Tests", "bin"), withFiles: false);
    }

    private static Func<string, string?> Variables(params (string Name, string Value)[] set) =>
        name => set.FirstOrDefault(v => v.Name == name).Value;

    private static string NoAcquisition(string target) =>
        throw new InvalidOperationException($"acquisition must not run (asked for {target})");

    [Fact]
    public void A_shared_mnist_folder_above_comes_before_LENET_DATA_and_the_repository()
    {
        using var temp = new TempDirectory();
        var start = Repository(temp);
        var shared = Folder(temp.Combine("shared/mnist"), withFiles: true);
        Folder(temp.Combine("clone/data/mnist"), withFiles: true);
        var data = Folder(temp.Combine("elsewhere"), withFiles: true);

        var found = MnistTestData.Locate([start], Variables(("LENET_DATA", data)), NoAcquisition);

        Assert.Equal(shared, found);
    }

    [Fact]
    public void An_incomplete_shared_folder_is_passed_over_for_LENET_DATA()
    {
        using var temp = new TempDirectory();
        var start = Repository(temp);
        Folder(temp.Combine("shared/mnist"), withFiles: false);
        var data = Folder(temp.Combine("elsewhere"), withFiles: true);

        Assert.Equal(data, MnistTestData.Locate([start], Variables(("LENET_DATA", data)), NoAcquisition));
    }

    [Fact]
    public void Without_shared_the_repository_data_folder_of_the_readme_command_is_used()
    {
        using var temp = new TempDirectory();
        var start = Repository(temp);
        var data = Folder(temp.Combine("clone/data/mnist"), withFiles: true);

        Assert.Equal(data, MnistTestData.Locate([start], Variables(), NoAcquisition));
    }

    [Fact]
    public void With_no_files_anywhere_the_library_acquires_them_into_the_repository_data_folder()
    {
        using var temp = new TempDirectory();
        var start = Repository(temp);
        var asked = new List<string>();

        var found = MnistTestData.Locate([start], Variables(), target =>
        {
            asked.Add(target);
            return Folder(target, withFiles: true);
        });

        Assert.Equal([temp.Combine("clone/data/mnist")], asked);
        Assert.Equal(temp.Combine("clone/data/mnist"), found);
    }

    [Fact]
    public void When_no_source_works_the_failure_is_one_sentence_naming_where_it_looked()
    {
        using var temp = new TempDirectory();
        var start = Repository(temp);

        var error = Assert.Throws<InvalidOperationException>(() => MnistTestData.Locate([start], Variables(),
            _ => throw new MnistDataException("no mirror answered")));

        Assert.Contains(temp.Combine("clone/data/mnist"), error.Message);
        Assert.Contains("no mirror answered", error.Message);
        Assert.Contains("LENET_TEST_MNIST", error.Message);
    }

    [Fact]
    public void A_LENET_TEST_MNIST_folder_without_the_files_is_refused_rather_than_passed_over()
    {
        using var temp = new TempDirectory();
        var empty = Folder(temp.Combine("empty"), withFiles: false);

        var error = Assert.Throws<InvalidOperationException>(() =>
            MnistTestData.Locate([temp.Path], Variables(("LENET_TEST_MNIST", empty)), NoAcquisition));

        Assert.Contains(empty, error.Message);
    }
}
