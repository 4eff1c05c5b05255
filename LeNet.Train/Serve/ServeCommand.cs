using System.Net;
using LeNet.Core.Files;
using LeNet.Train.Images;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train.Serve;

/// <summary>
/// serve --model FILE [--port N] [--host ADDRESS]: the drawing page and the prediction API for a trained model, until
/// Ctrl-C or SIGTERM.
/// </summary>
public static class ServeCommand
{
    public const int DefaultPort = 5000;
    public const string DefaultHost = "127.0.0.1";
    /// <summary>
    /// A server decodes for anyone who asks: a smaller bound than predict's (a phone photo is 12 MP).
    /// </summary>
    public const double DefaultMaxMegapixels = 16;

    public static Option<int> PortOption(string name, string description) =>
        Parsed(Placeholder(Described(name, description, DefaultPort), "PORT"), "a port from 0 to 65535",
            text => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                && port <= 65535 ? port : null);

    public static Command Create()
    {
        var model = SavedModel.Option();
        var port = PortOption("--port", "The port to listen on (0: any free port).");
        var host = Placeholder(Described("--host",
            "The address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 opens the page to every network.",
            DefaultHost), "ADDRESS");
        var maxMegapixels = Parsed(Placeholder(Described("--max-megapixels",
            "The largest image decoded, in megapixels (its header is checked before decoding).",
            DefaultMaxMegapixels), "MP"), "a positive number", text =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
                && double.IsFinite(value) ? value : null);
        var command = new Command("serve",
            "Serves a page to draw digits and see what the model predicts, and an HTTP prediction API " +
            "(POST /api/predict), until Ctrl-C.")
        {
            model, port, host, maxMegapixels,
        };
        command.SetAction(parse =>
        {
            using var signals = new StopSignals();
            return Run(parse.GetValue(model)!, parse.GetValue(host)!, parse.GetValue(port),
                parse.GetValue(maxMegapixels), Cli.IsQuiet(parse) ? TextWriter.Null : Console.Out, Console.Error,
                signals.Token);
        });
        return command;
    }

    /// <summary>Serves until <paramref name="stop"/> is cancelled; a model or address that cannot be used ends in one
    /// sentence on <paramref name="error"/> and exit code 1.</summary>
    public static int Run(string modelPath, string host, int port, double maxMegapixels, TextWriter log,
        TextWriter error, CancellationToken stop) =>
        Cli.ExitOnUserError(error, e => e is ModelFormatException or CheckpointException or OptionException, () =>
        {
            var saved = SavedModel.Load(modelPath);
            var accuracy = ModelInfo.RecordedAccuracy(modelPath);
            var info = ModelInfo.Of(saved.Variant, saved.Model, saved.ClassNames, accuracy?.Accuracy,
                accuracy?.Images, training: false);
            var predictor = new Predictor(saved.Model, saved.ClassNames, maxMegapixels);
            WarnIfOpen(host, error);
            var server = WebServer.StartAsync(host, port, () => predictor, () => info).GetAwaiter().GetResult();
            log.WriteLine($"Serving {info.Model} from {FileText.Escape(modelPath)}" +
                (accuracy is { } a ? $" ({a.Accuracy.ToString("F2", CultureInfo.InvariantCulture)} % on " +
                    $"{a.Images:N0} test images)" : "") + $" at {server.Address}; Ctrl-C stops it.");
            log.Flush();
            try { Task.Delay(Timeout.Infinite, stop).ContinueWith(_ => { }).GetAwaiter().GetResult(); }
            finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            log.WriteLine("Stopped.");
            return 0;
        });

    /// <summary>One line on stderr when the page will be reachable from other machines.</summary>
    public static void WarnIfOpen(string host, TextWriter error)
    {
        if (!IPAddress.IsLoopback(WebServer.ParseHost(host)))
            error.WriteLine($"Warning: --host {FileText.Printable(host)} lets other machines on the network reach " +
                "this server; it has no authentication.");
    }
}
