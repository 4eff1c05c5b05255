using LeNet.Train;

namespace LeNet.Tests.Train;

public class CommandLineTests
{
    [Theory]
    [InlineData("--epochs 0", "--epochs must be a whole number of at least 1")]
    [InlineData("--epochs -3", "--epochs must be a whole number of at least 1")]
    [InlineData("--batch-size 0", "--batch-size must be a whole number of at least 1")]
    [InlineData("--lr 0", "--lr must be a positive number")]
    [InlineData("--lr -1", "--lr must be a positive number")]
    [InlineData("--lr NaN", "--lr must be a positive number")]
    [InlineData("--lr abc", "--lr must be a positive number, not 'abc'")]
    [InlineData("--epochs 2.5", "--epochs must be a whole number of at least 1, not '2.5'")]
    [InlineData("--limit 0", "--limit must be a whole number of at least 1")]
    [InlineData("--device tpu", "--device tpu is not available")]
    [InlineData("--frobnicate", "--frobnicate")]
    public void Bad_options_are_refused_with_a_sentence_naming_them(string arguments, string expected)
    {
        var parse = TrainCommand.Create().Parse(arguments.Split(' '));
        Assert.NotEmpty(parse.Errors);
        Assert.Contains(parse.Errors, e => e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void No_arguments_means_the_seed_recipe()
    {
        var parse = TrainCommand.Create().Parse([]);
        Assert.Empty(parse.Errors);
        var defaults = new TrainOptions();
        Assert.Equal((10, 64, 0.001f, "cpu"), (defaults.Epochs, defaults.BatchSize, defaults.LearningRate, defaults.Device));
    }

    [Fact]
    public void An_unwritable_output_folder_is_refused_before_any_work()
    {
        using var folder = new TemporaryFolder();
        var blocker = Path.Combine(folder.Path, "file");
        File.WriteAllText(blocker, "a file where a folder should be");
        var error = new StringWriter();
        var code = TrainCommand.Run(new TrainOptions { OutputDirectory = Path.Combine(blocker, "out"), DataDirectory = folder.Path }, TextWriter.Null, error);
        Assert.Equal(1, code);
        Assert.StartsWith("Cannot write to the folder", error.ToString());
        Assert.Equal(["file"], Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName));
    }
}
