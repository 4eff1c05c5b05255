namespace LeNet.Train;

/// <summary>
/// The command line: <c>train</c> (also what runs when no command is named, so the bare program is the seed run),
/// <c>evaluate</c>, <c>predict</c> and <c>export</c>.
/// </summary>
public static class Cli
{
    public static RootCommand Create()
    {
        var root = new RootCommand("LeNet-5 on MNIST from scratch in C#. With no command, trains (see `train --help`).")
        {
            TrainCommand.Create(), EvaluateCommand.Create(), PredictCommand.Create(), ExportCommand.Create(),
        };
        TrainCommand.Configure(root);
        return root;
    }

    /// <summary>Parses and runs; a bad option ends in its sentence on stderr and exit code 2.</summary>
    public static int Run(string[] args, TextWriter? error = null)
    {
        error ??= Console.Error;
        var parse = Create().Parse(args);
        if (parse.Errors.Count == 0) return parse.Invoke();
        foreach (var e in parse.Errors) error.WriteLine(e.Message);
        error.WriteLine("Run with --help to see the options.");
        return 2;
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
