using LeNet.Tests.Mnist;
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
    [InlineData("--lr Infinity", "--lr must be a positive number, not 'Infinity'")]
    [InlineData("--lr 1e39", "--lr must be a positive number, not '1e39'")]
    [InlineData("--batch-size -64", "--batch-size must be a whole number of at least 1, not '-64'")]
    [InlineData("--epochs ten", "--epochs must be a whole number of at least 1, not 'ten'")]
    [InlineData("--epochs 2.5", "--epochs must be a whole number of at least 1, not '2.5'")]
    [InlineData("--limit 0", "--limit must be a whole number of at least 1")]
    [InlineData("--device tpu", "--device tpu is not a device; choose one of cpu, cuda, auto.")]
    [InlineData("--kernels fast", "--kernels fast is not a kind of CPU kernels; choose one of cpu, reference.")]
    [InlineData("--frobnicate", "--frobnicate")]
    [InlineData("--arch lenet7",
        "--arch lenet7 is not an architecture; choose one of lenet5, lenet5-table, lenet1998.")]
    [InlineData("train --epochs 0", "--epochs must be a whole number of at least 1")]
    [InlineData("train --arch vgg", "--arch vgg is not an architecture")]
    [InlineData("train --model lenet5",
        "--model names a trained model file (for evaluate, predict and export); to choose the architecture to " +
            "train, use --arch lenet5.")]
    [InlineData("--model lenet1998", "to choose the architecture to train, use --arch lenet1998.")]
    [InlineData("train --model output/model.safetensors", "use --arch with one of lenet5, lenet5-table, lenet1998.")]
    [InlineData("evaluate", "Option '--model' is required.")]
    [InlineData("evaluate --model m --test-limit 0", "--test-limit must be a whole number of at least 1")]
    [InlineData("evaluate --model m --device tpu", "--device tpu is not a device; choose one of cpu, cuda, auto.")]
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
        Assert.Equal((10, 64, 0.001f, "cpu"),
            (defaults.Epochs, defaults.BatchSize, defaults.LearningRate, defaults.Device));
    }

    [Theory]
    [InlineData("", "LeNet-5 on MNIST from scratch in C#. With no command, trains")]
    [InlineData("train", "Trains a LeNet-5 architecture on MNIST")]
    [InlineData("evaluate",
        "Evaluates a trained model on a test set: accuracy and mean loss, per-class precision, recall and F1")]
    [InlineData("predict", "Predicts the class of each image with a trained model")]
    public void Every_command_has_help_that_says_what_it_does(string command, string description)
    {
        var output = new StringWriter();
        string[] arguments = command.Length == 0 ? ["--help"] : [command, "--help"];
        var code = Cli.Create().Parse(arguments)
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        var help = output.ToString();
        Assert.Contains(description, System.Text.RegularExpressions.Regex.Replace(help, @"\s+", " "));
        Assert.Contains("Usage:", help);
        Assert.Contains("--help", help);
        if (command is "train") Assert.Contains("--resume", help);
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
    public void A_bad_option_ends_the_program_with_its_sentence_and_exit_code_2()
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Run(["--epochs", "0", "--output", "never-created"], error));
        Assert.Equal(["--epochs must be a whole number of at least 1, not '0'.",
            "Run 'LeNet.Train --help' to see the commands and options."],
            error.ToString().TrimEnd().Split(Environment.NewLine));
        Assert.False(Directory.Exists("never-created"));
    }

    public static TheoryData<string, string> Nonsense => new()
    {
        { "epochs 0", "--epochs must be a whole number of at least 1, not '0'." },
        { "epochs -3", "--epochs must be a whole number of at least 1, not '-3'." },
        { "batch 0", "--batch-size must be a whole number of at least 1, not '0'." },
        { "lr 0", "--lr must be a positive number, not '0'." },
        { "lr -1", "--lr must be a positive number, not '-1'." },
        { "lr NaN", "--lr must be a positive number, not 'NaN'." },
        { "lr infinite", "--lr must be a positive number, not 'Infinity'." },
        { "model", "--arch vgg16 is not an architecture; choose one of lenet5, lenet5-table, lenet1998." },
        { "limit", "--limit must be a whole number of at least 1, not '0'." },
        { "threads", "--threads must be a whole number of at least 1, not '-2'." },
    };

    [Theory]
    [MemberData(nameof(Nonsense))]
    public void Nonsense_options_from_a_program_are_refused_in_one_sentence_before_any_work(string what,
        string expected)
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "out");
        var options = new TrainOptions { DataDirectory = MnistTestData.Directory, OutputDirectory = output };
        options = what switch
        {
            "epochs 0" => options with { Epochs = 0 },
            "epochs -3" => options with { Epochs = -3 },
            "batch 0" => options with { BatchSize = 0 },
            "lr 0" => options with { LearningRate = 0 },
            "lr -1" => options with { LearningRate = -1 },
            "lr NaN" => options with { LearningRate = float.NaN },
            "lr infinite" => options with { LearningRate = float.PositiveInfinity },
            "model" => options with { Model = "vgg16" },
            "limit" => options with { Limit = 0 },
            "threads" => options with { Threads = -2 },
            _ => throw new ArgumentException(what),
        };
        var (log, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(1, TrainCommand.Run(options, log, error));
        Assert.Equal(expected, error.ToString().TrimEnd());
        Assert.Empty(log.ToString());
        Assert.False(Directory.Exists(output), "nothing should have been created");
    }

    [Fact]
    public void A_batch_larger_than_the_training_set_is_refused_before_any_step_and_leaves_no_folder_behind()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "out");
        var (log, error) = (new StringWriter(), new StringWriter());
        var options = new TrainOptions { DataDirectory = MnistTestData.Directory, Limit = 100, BatchSize = 101,
            OutputDirectory = output };
        Assert.Equal(1, TrainCommand.Run(options, log, error));
        Assert.Equal("--batch-size 101 exceeds the 100 training images.", error.ToString().TrimEnd());
        Assert.DoesNotContain("trainable parameters", log.ToString());
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void An_output_folder_whose_parent_is_missing_is_refused_and_nothing_is_created()
    {
        using var folder = new TemporaryFolder();
        var output = Path.Combine(folder.Path, "typo", "out");
        var error = new StringWriter();
        Assert.Equal(1, TrainCommand.Run(
            new TrainOptions { OutputDirectory = output, DataDirectory = MnistTestData.Directory }, TextWriter.Null,
            error));
        Assert.Equal(
            $"Cannot create the folder {output} given by --output: its parent {Path.Combine(folder.Path, "typo")} " +
                "does not exist; create that folder first, or choose another.",
            error.ToString().TrimEnd());
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [Fact]
    public void An_unwritable_output_folder_is_refused_before_any_work()
    {
        using var folder = new TemporaryFolder();
        var blocker = Path.Combine(folder.Path, "file");
        File.WriteAllText(blocker, "a file where a folder should be");
        foreach (var output in new[] { Path.Combine(blocker, "out"), blocker })
            AssertRefused(output, "Cannot create the folder");
        Assert.Equal(["file"], Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_read_only_output_folder_is_refused_before_any_work()
    {
        using var folder = new TemporaryFolder();
        var readOnly = Path.Combine(folder.Path, "read-only");
        Directory.CreateDirectory(readOnly);
        if (!TemporaryFolder.MakeReadOnly(readOnly))
            Assert.Skip(TemporaryFolder.ReadOnlyUnavailable);
        try
        {
            AssertRefused(readOnly, "Cannot write to the folder");
        }
        finally
        {
            TemporaryFolder.MakeWritable(readOnly);
        }
        Assert.Empty(Directory.GetFileSystemEntries(readOnly));
    }

    /// <summary>Training into <paramref name="output"/> ends in one sentence starting with
    /// <paramref name="expected"/>.</summary>
    private static void AssertRefused(string output, string expected)
    {
        var (log, error) = (new StringWriter(), new StringWriter());
        var code = TrainCommand.Run(
            new TrainOptions { OutputDirectory = output, DataDirectory = MnistTestData.Directory }, log, error);
        Assert.Equal(1, code);
        Assert.StartsWith($"{expected} {output} given by --output", error.ToString());
        Assert.DoesNotContain('\n', error.ToString().TrimEnd());
        Assert.Empty(log.ToString());
    }
}
