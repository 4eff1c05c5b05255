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
    [InlineData("--model lenet7", "--model lenet7 is not a model variant; choose one of lenet5, lenet5-table, lenet1998.")]
    [InlineData("train --epochs 0", "--epochs must be a whole number of at least 1")]
    [InlineData("train --model vgg", "--model vgg is not a model variant")]
    [InlineData("evaluate", "Option '--model' is required.")]
    [InlineData("evaluate --model m --test-limit 0", "--test-limit must be a whole number of at least 1")]
    [InlineData("predict --model m", "Required argument 'IMAGE' missing for command: 'predict'.")]
    public void Bad_options_are_refused_with_a_sentence_naming_them(string arguments, string expected)
    {
        var parse = Cli.Create().Parse(arguments.Split(' '));
        Assert.NotEmpty(parse.Errors);
        Assert.Contains(parse.Errors, e => e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void No_arguments_means_the_seed_recipe()
    {
        var parse = Cli.Create().Parse([]);
        Assert.Empty(parse.Errors);
        Assert.Equal(Cli.Create().Name, parse.CommandResult.Command.Name);
        var defaults = new TrainOptions();
        Assert.Equal((10, 64, 0.001f, "cpu"), (defaults.Epochs, defaults.BatchSize, defaults.LearningRate, defaults.Device));
    }

    [Theory]
    [InlineData("", "LeNet-5 on MNIST from scratch in C#. With no command, trains")]
    [InlineData("train", "Trains a LeNet-5 variant on MNIST")]
    [InlineData("evaluate", "Evaluates a trained model on a test set: accuracy, per-class precision and recall, and the confusion matrix")]
    [InlineData("predict", "Predicts the class of each image with a trained model")]
    public void Every_command_has_help_that_says_what_it_does(string command, string description)
    {
        var output = new StringWriter();
        string[] arguments = command.Length == 0 ? ["--help"] : [command, "--help"];
        var code = Cli.Create().Parse(arguments).Invoke(new System.CommandLine.InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        var help = output.ToString();
        Assert.Contains(description, help.ReplaceLineEndings(" "));
        Assert.Contains("Usage:", help);
        Assert.Contains("--help", help);
        if (command is "" or "train") Assert.Contains("--resume", help);
        if (command == "") Assert.Contains("evaluate", help);
    }

    [Fact]
    public void The_resume_recipe_comes_from_the_command_line_only_where_given()
    {
        var root = Cli.Create();
        var parse = root.Parse(["--resume", "x", "--lr", "0.5"]);
        var lr = root.Options.Single(o => o.Name == "--lr");
        var epochs = root.Options.Single(o => o.Name == "--epochs");
        Assert.True(OptionParsers.IsExplicit(parse, lr));
        Assert.False(OptionParsers.IsExplicit(parse, epochs));
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
