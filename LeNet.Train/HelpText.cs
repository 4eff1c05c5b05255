using System.CommandLine.Help;
using System.CommandLine.Invocation;
using LeNet.Core.Models;

namespace LeNet.Train;

/// <summary>
/// Help that teaches: the commands before the options, placeholders that say what goes there, train's architectures
/// with their sizes, and a few examples at the end of each command's help; <c>help [COMMAND]</c> prints the same.
/// </summary>
internal static class HelpText
{
    private static string P => Cli.ProgramName;

    /// <summary>What each command does, in the root's list of commands (their own help says more).</summary>
    private static readonly Dictionary<string, string> Summaries = new()
    {
        ["train"] = "Train a model on MNIST; the default command (with no options, the seed run).",
        ["evaluate"] = "Measure a trained model on a test set: accuracy, loss, per class, confusion matrix.",
        ["predict"] = "Classify digit images with a trained model.",
        ["export"] = "Write a trained model as an ONNX file.",
        ["summary"] = "Show a model's layers, output shapes, parameters and multiply-adds.",
        ["serve"] = "Serve a page to draw digits for a trained model, and an HTTP prediction API.",
        ["help"] = "Show the help of the program or of one command.",
    };

    /// <summary>Per command (the root as ""): what each example does, then the command line.</summary>
    private static readonly Dictionary<string, (string What, string Line)[]> Examples = new()
    {
        [""] =
        [
            ("The seed run: LeNet-5 on MNIST, the reference article's recipe (downloads MNIST if needed)", P),
            ("Everything train can do", $"{P} help train"),
            ("The class of a digit in a picture, with the model the seed run saved",
                $"{P} predict --model output/model.safetensors digit.png"),
        ],
        ["train"] =
        [
            ("The seed run: LeNet-5, 10 epochs, batch 64, Adam 0.001, seed 0, into ./output", $"{P} train"),
            ("The article's table architecture, 20 epochs, on the GPU when there is one",
                $"{P} train --arch lenet5-table --epochs 20 --device auto --output runs/table"),
            ("Continue an interrupted run, and train it up to 15 epochs", $"{P} train --resume output --epochs 15"),
        ],
        ["evaluate"] =
        [
            ("Accuracy and loss, precision, recall and F1 per class, and the confusion matrix",
                $"{P} evaluate --model output/model.safetensors"),
            ("The same as JSON (rates as fractions), for a script",
                $"{P} evaluate --model output/model.safetensors --json --quiet"),
        ],
        ["predict"] =
        [
            ("The class of a digit and the ten probabilities",
                $"{P} predict --model output/model.safetensors digit.png"),
            ("Several pictures at once, as JSON", $"{P} predict --model output/model.safetensors scans/*.png --json"),
            ("What the model saw: each picture's 28×28 digit as a PNG in seen/",
                $"{P} predict --model output/model.safetensors photo.jpg --save-preprocessed seen"),
        ],
        ["export"] =
        [
            ("The trained model as ONNX, for ONNX Runtime or ML.NET",
                $"{P} export --model output/model.safetensors --onnx lenet5.onnx"),
            ("From a checkpoint of a run still in progress", $"{P} export --model output --onnx snapshot.onnx"),
        ],
        ["summary"] =
        [
            ("The layers of LeNet-5 as torchinfo shows them", $"{P} summary"),
            ("The layers of a trained model, whichever architecture it has",
                $"{P} summary --model output/model.safetensors"),
        ],
        ["serve"] =
        [
            ("The drawing page and the API at http://127.0.0.1:5000",
                $"{P} serve --model output/model.safetensors"),
            ("A prediction from a script, as predict --json answers",
                "curl --data-binary @digit.png -H 'Content-Type: image/png' http://127.0.0.1:5000/api/predict"),
            ("Watch a run learn in the browser, drawing against its weights as they change",
                $"{P} train --serve"),
        ],
        ["help"] =
        [
            ("The commands", $"{P} help"),
            ("What predict takes", $"{P} help predict"),
        ],
    };

    /// <summary>The action of --help, wrapping at <paramref name="width"/>.</summary>
    public static CommandLineAction Action(int width) => new HelpAction(width);

    /// <summary>
    /// Writes <paramref name="command"/>'s help: what it does, its usage, its arguments, its commands before its
    /// options (the root lists only its own, not train's), train's architectures, and the examples.
    /// </summary>
    public static void Write(Command command, TextWriter output, int width)
    {
        var root = command is RootCommand;
        var name = root ? P : $"{P} {command.Name}";
        Section(output, "Description:", [Wrap(command.Description ?? "", width - 2).Select(l => "  " + l)]);
        var arguments = command.Arguments.Where(a => !a.Hidden).ToList();
        var usage = string.Join(" ", new[] { name }
            .Concat(arguments.Select(a => a.Arity.MinimumNumberOfValues == 0 ? $"[{Placeholder(a)}]" : Placeholder(a)))
            .Append(root ? "[command] [options]" : "[options]"));
        Section(output, "Usage:", [[$"  {usage}"]]);
        Section(output, "Arguments:", [Columns(arguments.Select(a => (Placeholder(a), a.Description ?? "")), width)]);
        Section(output, "Commands:", [Columns(command.Subcommands.Where(c => !c.Hidden)
            .Select(c => (c.Name, Summaries.GetValueOrDefault(c.Name, c.Description ?? ""))), width)]);
        // The command's own options first, then those every command takes, --help and --version last.
        var options = command.Options.Concat(command.Parents.OfType<Command>().SelectMany(c => c.Options)
            .Where(o => o.Recursive)).Where(o => !o.Hidden).DistinctBy(o => o.Name)
            .OrderBy(o => o is HelpOption or VersionOption);
        Section(output, "Options:", [Columns(options.Select(o => (Usage(o), Describe(o))), width)]);
        if (command.Name == "train")
            Section(output, $"Architectures ({TrainCommand.ArchOption}):", [Columns(ModelVariants.Names.Select(n => (n,
                $"{ModelVariants.Create(n).ParameterCount():N0} parameters: {ModelVariants.Describe(n)}.")), width)]);
        if (Examples.TryGetValue(root ? "" : command.Name, out var examples))
            Section(output, "Examples:", examples.Select(e => (IEnumerable<string>)[$"  {e.What}:", $"    {e.Line}"]));
    }

    private static void Section(TextWriter output, string title, IEnumerable<IEnumerable<string>> blocks)
    {
        var lines = blocks.SelectMany(b => b).ToList();
        if (lines.Count == 0) return;
        output.WriteLine(title);
        foreach (var line in lines) output.WriteLine(line.TrimEnd());
        output.WriteLine();
    }

    /// <summary>Two columns, the second wrapped; a first column too wide puts its text on the next line.</summary>
    private static IEnumerable<string> Columns(IEnumerable<(string First, string Second)> rows, int width)
    {
        var list = rows.ToList();
        if (list.Count == 0) yield break;
        var first = Math.Min(list.Max(r => r.First.Length), width / 3);
        var textWidth = width - first - 4;
        foreach (var (left, right) in list)
        {
            var text = Wrap(right, textWidth).ToList();
            if (left.Length > first)
            {
                yield return "  " + left;
                text.Insert(0, "");
                text.RemoveAt(0);
            }
            else
            {
                yield return $"  {left.PadRight(first)}  {(text.Count > 0 ? text[0] : "")}";
                if (text.Count > 0) text.RemoveAt(0);
            }
            foreach (var line in text) yield return new string(' ', first + 4) + line;
        }
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = "";
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line;
                line = "";
            }
            line = line.Length == 0 ? word : $"{line} {word}";
        }
        if (line.Length > 0) yield return line;
    }

    private static string Placeholder(Argument argument) =>
        $"<{argument.HelpName ?? argument.Name}>" + (argument.Arity.MaximumNumberOfValues > 1 ? "..." : "");

    private static string Usage(Option option)
    {
        var names = string.Join(", ", option.Aliases.Where(a => !a.StartsWith('/') && a != "-?").Order()
            .Append(option.Name));
        return option.Arity.MaximumNumberOfValues == 0 || option.ValueType == typeof(bool) ? names
            : $"{names} <{option.HelpName ?? option.Name.TrimStart('-')}>";
    }

    private static string Describe(Option option)
    {
        var text = option.Description ?? "";
        if (option.Required) return text + " (required)";
        if (!option.HasDefaultValue || option.ValueType == typeof(bool)) return text;
        return option.GetDefaultValue() is { } value
            ? $"{text} [default: {Convert.ToString(value, CultureInfo.InvariantCulture)}]" : text;
    }

    /// <summary>Prints the help of the command the command line reached, also when the rest of it has errors.</summary>
    private sealed class HelpAction(int width) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            Write(parseResult.CommandResult.Command, parseResult.InvocationConfiguration.Output, width);
            return 0;
        }
    }

    /// <summary><c>help [COMMAND]</c>: the help <c>--help</c> prints, of the program or of one command.</summary>
    public static Command Command(RootCommand root, int width)
    {
        var name = new Argument<string?>("COMMAND")
        {
            Description = "The command to explain; none: the program.", Arity = ArgumentArity.ZeroOrOne,
        };
        name.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is not { } typed || Find(root, typed) is not null) return;
            var names = root.Subcommands.Select(c => c.Name).ToArray();
            r.AddError($"There is no command '{typed}'" + (NearestName.To(typed, names) is { } nearest
                ? $"; did you mean '{nearest}'?" : $"; the commands are {string.Join(", ", names)}."));
        });
        var help = new Command("help", "Shows the help of the program, or of one command (as --help does).") { name };
        help.SetAction(parse =>
        {
            var target = parse.GetValue(name) is { } typed ? Find(root, typed)! : root;
            Write(target, parse.InvocationConfiguration.Output, width);
            return 0;
        });
        return help;
    }

    private static Command? Find(RootCommand root, string name) => root.Subcommands.FirstOrDefault(c => c.Name == name);
}
