using System.CommandLine;
using System.Runtime.CompilerServices;
using LeNet.Core.Models;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// The help a person reads, compared with the snapshots in Train/Help/ exactly. A deliberate change of the help is made
/// by running these tests once with LENET_UPDATE_HELP=1, which rewrites the snapshots, and reviewing their diff.
/// </summary>
public class HelpTests
{
    private const int Width = 100;

    public static TheoryData<string> Commands =>
        new() { "", "train", "evaluate", "predict", "export", "summary", "serve", "help" };

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_help_of_each_command_is_its_snapshot(string command)
    {
        var help = Help(command.Length == 0 ? ["--help"] : [command, "--help"]);
        var snapshot = Path.Combine(SourceFolder(), "Help", (command.Length == 0 ? "root" : command) + ".txt");
        if (Environment.GetEnvironmentVariable("LENET_UPDATE_HELP") == "1") File.WriteAllText(snapshot, help);
        Assert.Equal(File.ReadAllText(snapshot), help);
    }

    [Fact]
    public void The_readme_shows_the_root_help_as_it_is()
    {
        var readme = File.ReadAllText(Path.Combine(SourceFolder(), "..", "..", "README.md")).ReplaceLineEndings("\n");
        Assert.Contains("```\n" + Help(["--help"]).ReplaceLineEndings("\n").TrimEnd() + "\n```", readme);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_COMMAND_prints_what_COMMAND_help_prints(string command)
    {
        string[] helpCommand = command.Length == 0 ? ["help"] : ["help", command];
        Assert.Equal(Help(command.Length == 0 ? ["--help"] : [command, "--help"]), Help(helpCommand));
        Assert.Equal(Help(command.Length == 0 ? ["-h"] : [command, "-h"]), Help(helpCommand));
    }

    [Fact]
    public void The_root_help_lists_the_commands_before_the_common_options_and_not_trains_options()
    {
        var help = Help(["--help"]);
        var (commands, options) = (help.IndexOf("\nCommands:", StringComparison.Ordinal),
            help.IndexOf("\nOptions:", StringComparison.Ordinal));
        Assert.InRange(commands, 0, options);
        foreach (var name in new[] { "train", "evaluate", "predict", "export", "summary", "serve", "help" })
            Assert.Matches($@"\n  {name} +\S", help[commands..options]);
        Assert.DoesNotContain("--epochs", help);
        Assert.Contains("--quiet", help[options..]);
    }

    [Fact]
    public void Train_help_lists_the_architectures_with_their_parameter_counts()
    {
        var help = Help(["train", "--help"]);
        var section = help[help.IndexOf("Architectures (--arch):", StringComparison.Ordinal)..];
        foreach (var name in ModelVariants.Names)
        {
            var parameters = ModelVariants.Create(name).ParameterCount();
            Assert.Matches($@"\n  {name} +{parameters:N0} parameters: ", section);
        }
        Assert.Contains("--arch <ARCH>", help);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Each_help_ends_with_examples_and_shows_no_internals(string command)
    {
        var help = Help(command.Length == 0 ? ["--help"] : [command, "--help"]);
        var examples = help[help.LastIndexOf("Examples:", StringComparison.Ordinal)..].TrimEnd().Split('\n');
        var lines = examples.Count(l => l.StartsWith("    LeNet.Train", StringComparison.Ordinal));
        Assert.InRange(lines, 2, 3);
        foreach (var line in examples.Where(l => l.StartsWith("    LeNet.Train ", StringComparison.Ordinal)))
        {
            // Every example is a command line that parses (the globs a shell would expand aside).
            var arguments = line.Trim().Split(' ').Skip(1).Select(a => a.Replace("*", "all", StringComparison.Ordinal));
            Assert.Empty(Cli.Create(Width).Parse(arguments.ToArray()).Errors);
        }
        foreach (var inner in new[] { "LENET_", "$", "CUDA graph", "ILGPU", "cuda-graphs" })
            Assert.DoesNotContain(inner, help);
        Assert.True(help.Split('\n').All(l => l.Length <= Width), "no line is wider than the help's width");
    }

    [Fact]
    public void Placeholders_say_what_goes_there()
    {
        var train = Help(["train", "--help"]);
        foreach (var usage in new[] { "--lr <RATE>", "--output <DIR>", "--epochs <N>", "--data <DIR>", "--resume <DIR>",
            "--metrics <FILE>", "--device <cpu|cuda|auto>" })
            Assert.Contains(usage, train);
        Assert.Contains("--model <FILE>", Help(["evaluate", "--help"]));
        Assert.Contains("--onnx <FILE>", Help(["export", "--help"]));
        Assert.Contains("--model <NAME|FILE>", Help(["summary", "--help"]));
        Assert.Contains("<IMAGE>...", Help(["predict", "--help"]));
    }

    [Theory]
    [InlineData("/home/me/.dotnet/tools/lenet", "lenet")]
    [InlineData("lenet.exe", "lenet")]
    [InlineData("/work/LeNet.Train/bin/Release/net10.0/LeNet.Train", "LeNet.Train")]
    [InlineData("/usr/share/dotnet/dotnet", "LeNet.Train")]
    [InlineData("/work/LeNet.Tests/bin/Debug/net10.0/LeNet.Tests", "LeNet.Train")]
    [InlineData("/tmp/lenet-publish/lenet.sh", "LeNet.Train")]
    [InlineData(null, "LeNet.Train")]
    public void The_program_is_named_lenet_only_when_started_as_the_installed_tools_command(string? process,
        string name) =>
        Assert.Equal(name, Cli.NameFor(process));

    [Fact]
    public void Help_goes_to_stdout_with_exit_code_0_even_after_a_bad_option()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, Cli.Run(["train", "--epochs", "0", "--help"], error, output));
        Assert.StartsWith("Description:", output.ToString());
        Assert.Empty(error.ToString());
    }

    private static string Help(string[] arguments)
    {
        var output = new StringWriter();
        var code = Cli.Create(Width).Parse(arguments).Invoke(new InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        return output.ToString();
    }

    private static string SourceFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
