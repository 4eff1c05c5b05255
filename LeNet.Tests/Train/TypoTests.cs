using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>A mistyped option or command gets the nearest name its command knows, as git and dotnet do; exit code
/// 2.</summary>
public class TypoTests
{
    [Theory]
    [InlineData("--epoch 2", "Unrecognized command or argument '--epoch'. Did you mean '--epochs'?",
        "Run 'LeNet.Train --help' to see the commands and options.")]
    [InlineData("trian --epochs 2", "Unrecognized command or argument 'trian'. Did you mean 'train'?",
        "Run 'LeNet.Train --help' to see the commands and options.")]
    [InlineData("evalute --model m", "Unrecognized command or argument 'evalute'. Did you mean 'evaluate'?",
        "Run 'LeNet.Train --help' to see the commands and options.")]
    [InlineData("train --epoch 2", "Unrecognized command or argument '--epoch'. Did you mean '--epochs'?",
        "Run 'LeNet.Train train --help' to see its options.")]
    [InlineData("train --bach-size 32", "Unrecognized command or argument '--bach-size'. Did you mean '--batch-size'?",
        "Run 'LeNet.Train train --help' to see its options.")]
    [InlineData("train --batch 32", "Unrecognized command or argument '--batch'. Did you mean '--batch-size'?",
        "Run 'LeNet.Train train --help' to see its options.")]
    [InlineData("evaluate --model m --jsno", "Unrecognized command or argument '--jsno'. Did you mean '--json'?",
        "Run 'LeNet.Train evaluate --help' to see its options.")]
    [InlineData("predict --model m --jason a.png", "Unrecognized command or argument '--jason'. Did you mean '--json'?",
        "Run 'LeNet.Train predict --help' to see its options.")]
    [InlineData("export --model m --onnx a.onnx --quite",
        "Unrecognized command or argument '--quite'. Did you mean '--quiet'?",
        "Run 'LeNet.Train export --help' to see its options.")]
    [InlineData("help trian", "There is no command 'trian'; did you mean 'train'?",
        "Run 'LeNet.Train help' to see the commands.")]
    [InlineData("train --frobnicate", "Unrecognized command or argument '--frobnicate'.",
        "Run 'LeNet.Train train --help' to see its options.")]
    [InlineData("help frob",
        "There is no command 'frob'; the commands are train, evaluate, predict, export, summary, serve, help.",
        "Run 'LeNet.Train help' to see the commands.")]
    public void A_mistyped_name_is_refused_with_the_nearest_one_and_exit_code_2(string arguments, string sentence,
        string hint)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(2, Cli.Run(arguments.Split(' '), error, output));
        Assert.Equal([sentence, hint], error.ToString().TrimEnd().Split(Environment.NewLine));
        Assert.Empty(output.ToString());
    }

    [Theory]
    [InlineData("--epoch", "--epochs")]
    [InlineData("--Epochs", "--epochs")]
    [InlineData("--lr", "--lr")]
    [InlineData("--x", null)]
    [InlineData("--seeds", "--seed")]
    [InlineData("--testlimit", "--test-limit")]
    [InlineData("--lim", "--limit")]
    [InlineData("--xyzzy", null)]
    [InlineData("--lmit", "--limit")]
    public void The_nearest_name_is_given_only_when_it_is_close_and_alone(string typed, string? expected)
    {
        string[] names = ["--epochs", "--seed", "--lr", "--limit", "--test-limit", "--log-every", "--batch-size"];
        Assert.Equal(expected, NearestName.To(typed, names));
    }

    [Fact]
    public void Two_names_equally_near_give_no_suggestion()
    {
        Assert.Null(NearestName.To("--ab", ["--abc", "--abd"]));
        Assert.Equal(1, NearestName.Distance("trian", "train")); // a swap of neighbours is one edit
    }
}
