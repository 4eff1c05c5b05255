using System.CommandLine.Help;

namespace LeNet.Train;

/// <summary>
/// The command line: <c>train</c> (also what runs when no command is named, so the bare program is the seed run),
/// <c>evaluate</c>, <c>predict</c>, <c>export</c>, <c>summary</c> and <c>help</c>. Results go to stdout, diagnostics
/// to stderr; exit code 0 on success, 1 for a problem met while running, 2 for a command line that cannot run.
/// </summary>
public static class Cli
{
    /// <summary>The command of the installed .NET tool (ToolCommandName in LeNet.Train.csproj).</summary>
    public const string ToolCommandName = "lenet";

    /// <summary>
    /// The program as help and messages name it, for the way it was started: <see cref="ToolCommandName"/> when the
    /// process is the installed tool's command, else LeNet.Train (the project, its build or a self-contained publish).
    /// </summary>
    public static string ProgramName { get; } = NameFor(Environment.ProcessPath);

    /// <summary>The program's name when <paramref name="processPath"/> is the process's executable.</summary>
    public static string NameFor(string? processPath) =>
        Path.GetFileName(processPath) is ToolCommandName
            || string.Equals(Path.GetFileName(processPath), ToolCommandName + ".exe",
                StringComparison.OrdinalIgnoreCase)
            ? ToolCommandName : "LeNet.Train";

    public const string QuietOption = "--quiet";

    /// <param name="helpWidth">Where help wraps; null: the terminal's width up to 100, else 100.</param>
    public static RootCommand Create(int? helpWidth = null)
    {
        var root = new RootCommand(
            "LeNet-5 on MNIST from scratch in C#. With no command, trains (the seed run) and takes train's options.")
        {
            HelpName = ProgramName,
        };
        foreach (var command in new[]
            {
                TrainCommand.Create(), EvaluateCommand.Create(), PredictCommand.Create(), ExportCommand.Create(),
                SummaryCommand.Create(), Serve.ServeCommand.Create(),
            })
            root.Add(command);
        root.Add(new Option<bool>(QuietOption)
        {
            Description = "Print only results and errors: no progress, no notes (for scripts).", Recursive = true,
        });
        TrainCommand.Configure(root);
        var width = helpWidth ?? (Console.IsOutputRedirected ? 100 : Math.Clamp(Console.WindowWidth, 40, 100));
        root.Add(HelpText.Command(root, width));
        root.Options.OfType<HelpOption>().Single().Action = HelpText.Action(width);
        return root;
    }

    /// <summary>True when the command line asked for <see cref="QuietOption"/>.</summary>
    public static bool IsQuiet(ParseResult parse) => parse.GetValue<bool>(QuietOption);

    /// <summary>
    /// Parses and runs; a command line that cannot run ends in its sentences on stderr (a mistyped name with the
    /// nearest one) and exit code 2.
    /// </summary>
    public static int Run(string[] args, TextWriter? error = null, TextWriter? output = null)
    {
        error ??= Console.Error;
        var parse = Create().Parse(args);
        if (parse.Errors.Count == 0 || parse.Action is { ClearsParseErrors: true })
            return parse.Invoke(new InvocationConfiguration { Output = output ?? Console.Out, Error = error });
        foreach (var line in ErrorLines(parse)) error.WriteLine(line);
        return 2;
    }

    /// <summary>
    /// The errors of <paramref name="parse"/> as printed: each unknown name once (not the values typed after it), with
    /// the nearest name its command knows when one is close, then where to read the options.
    /// </summary>
    public static IEnumerable<string> ErrorLines(ParseResult parse)
    {
        var unmatched = parse.UnmatchedTokens;
        var command = parse.CommandResult.Command;
        // A mistyped command makes the rest meaningless (its options are read as the root's): it alone is reported.
        var mistypedCommand = command is RootCommand && parse.Tokens.FirstOrDefault() is { } first
            && unmatched.FirstOrDefault() == first.Value && !first.Value.StartsWith('-');
        if (!mistypedCommand)
            foreach (var e in parse.Errors)
                if (!unmatched.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal)))
                    yield return e.Message;
        for (var i = 0; i < (mistypedCommand ? 1 : unmatched.Count); i++)
        {
            // A value typed after an unknown option is not news.
            if (i > 0 && unmatched[i - 1].StartsWith('-') && !unmatched[i].StartsWith('-')) continue;
            yield return Unrecognized(unmatched[i], command);
        }
        yield return command is RootCommand ? $"Run '{ProgramName} --help' to see the commands and options."
            : command.Name == "help" ? $"Run '{ProgramName} help' to see the commands."
            : $"Run '{ProgramName} {command.Name} --help' to see its options.";
    }

    /// <summary>The sentence for a name <paramref name="command"/> does not know, with the nearest it does.</summary>
    public static string Unrecognized(string token, Command command) =>
        $"Unrecognized command or argument '{token}'." +
        (NearestName.To(token, KnownNames(command)) is { } nearest ? $" Did you mean '{nearest}'?" : "");

    /// <summary>
    /// The names <paramref name="command"/> knows: its visible subcommands and options, its parents' recursive ones,
    /// and at the root train's, which the root takes but does not list.
    /// </summary>
    private static IEnumerable<string> KnownNames(Command command)
    {
        var options = command.Options
            .Concat(command.Parents.OfType<Command>().SelectMany(c => c.Options).Where(o => o.Recursive))
            .Concat(command is RootCommand
                ? command.Subcommands.Where(c => c.Name == "train").SelectMany(c => c.Options) : [])
            .Where(o => !o.Hidden);
        return command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name)
            .Concat(options.SelectMany(o => o.Aliases.Prepend(o.Name)))
            .Where(n => !n.StartsWith('/') && n != "-?");
    }

    /// <summary>Runs <paramref name="body"/>; a user error ends in its sentence on stderr and exit code 1.</summary>
    internal static int ExitOnUserError(TextWriter error, Func<Exception, bool> isUserError, Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (isUserError(e))
        {
            error.WriteLine(e.Message);
            return 1;
        }
    }
}
