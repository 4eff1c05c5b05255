using System.Diagnostics;
using System.Runtime.CompilerServices;
using SkiaSharp;

namespace LeNet.Tests.Train;

/// <summary>
/// LeNet.Train as a user installs it: packed as a .NET tool (Release, into build folders of its own, so the tests'
/// build is left alone), installed into a temporary tool path (not the user's global tools) from a feed that holds only
/// that package, under a version of its own, and run as <c>lenet</c>, as the user would run it.
/// </summary>
public class ToolInstallTests
{
    [Fact]
    public async Task The_packed_tool_installs_and_lenet_shows_its_help_and_predicts_a_png()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var folder = new TemporaryFolder();
        var (feed, tools, build) = (Folder(folder, "feed"), Folder(folder, "tools"), Folder(folder, "build"));
        // A version no other package has: the tool installed is the one packed here.
        var version = $"0.0.0-test-{Guid.NewGuid():N}";
        // The analyzers have had their say in the tests' own build: the package is the same without them, made sooner.
        using var pack = Start("dotnet", ["pack", ProjectFile(), "-c", "Release", "-o", feed, "--artifacts-path", build,
            $"-p:Version={version}", "-p:RunAnalyzers=false", "-nodeReuse:false", "-v:q"]);
        // The shared model and the picture are made while the tool builds.
        var (label, picture) = DigitPicture(folder.Path);
        AssertSucceeded(await pack.Finish(TimeSpan.FromMinutes(8), cancel));

        // Only the feed as source: nothing is asked of the network, and the user's sources are not consulted.
        var config = Path.Combine(folder.Path, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="feed" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        using (var install = Start("dotnet",
            ["tool", "install", "LeNet.Train", "--tool-path", tools, "--version", version, "--configfile", config]))
            AssertSucceeded(await install.Finish(TimeSpan.FromMinutes(2), cancel));
        var lenet = Path.Combine(tools, OperatingSystem.IsWindows() ? "lenet.exe" : "lenet");
        Assert.True(File.Exists(lenet), $"the tool's command {lenet} is missing");

        // The settings the kernels rely on travel with the tool.
        var runtimeConfig = File.ReadAllText(
            Directory.GetFiles(tools, "LeNet.Train.runtimeconfig.json", SearchOption.AllDirectories).Single());
        Assert.Contains("\"System.Runtime.TieredCompilation\": false", runtimeConfig);
        Assert.Contains("\"System.GC.Server\": false", runtimeConfig);

        var (code, output, errors) = await Lenet(lenet, ["--version"], cancel);
        Assert.True(code == 0, errors);
        Assert.StartsWith(version, output);

        // The help names the command the user types, in its usage and in every example.
        (code, output, errors) = await Lenet(lenet, ["--help"], cancel);
        Assert.True(code == 0, errors);
        Assert.Contains("Usage:\n  lenet [command] [options]", output.ReplaceLineEndings("\n"));
        foreach (var command in new[] { "train", "evaluate", "predict", "export", "summary", "help" })
            Assert.Matches($@"\n  {command} +\S", output.ReplaceLineEndings("\n"));
        Assert.Contains("    lenet predict --model output/model.safetensors digit.png", output);
        Assert.DoesNotContain("LeNet.Train", output);
        (code, _, errors) = await Lenet(lenet, ["predcit"], cancel);
        Assert.Equal(2, code);
        Assert.Contains("Did you mean 'predict'?", errors);
        Assert.Contains("Run 'lenet --help' to see the commands and options.", errors);

        // predict reads the PNG with SkiaSharp's native library, which the package carries.
        (code, output, errors) = await Lenet(lenet, ["predict", "--model", TrainedModel.ModelFile, picture], cancel);
        Assert.True(code == 0, errors);
        Assert.StartsWith($"{picture}: {label} (", output);
    }

    /// <summary>A digit of the test set the shared model is sure of, drawn 3× larger in dark ink on light paper, as a
    /// PNG.</summary>
    private static (int Label, string Path) DigitPicture(string folder)
    {
        var (_, label, digit) = PredictTests.Digits()[7];
        var (red, green, blue) = PredictTests.Draw(digit, 3, 100, 90, 6, 4);
        var path = Path.Combine(folder, "digit.png");
        File.WriteAllBytes(path, PredictTests.Encode(red, green, blue, 100, 90, SKEncodedImageFormat.Png));
        return (label, path);
    }

    private static async Task<(int Code, string Output, string Errors)> Lenet(string lenet, string[] arguments,
        CancellationToken cancel)
    {
        using var process = Start(lenet, arguments);
        return await process.Finish(TimeSpan.FromMinutes(1), cancel);
    }

    private static void AssertSucceeded((int Code, string Output, string Errors) result) =>
        Assert.True(result.Code == 0, $"exit code {result.Code}\n{result.Output}\n{result.Errors}");

    private static string Folder(TemporaryFolder parent, string name) =>
        Directory.CreateDirectory(Path.Combine(parent.Path, name)).FullName;

    private static string ProjectFile([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "LeNet.Train", "LeNet.Train.csproj"));

    /// <summary>
    /// Starts <paramref name="program"/> (<c>dotnet</c>: the one running these tests when known) with its output
    /// collected, as from a user's shell: without the MSBuild settings a <c>dotnet test</c> above may have left.
    /// </summary>
    private static ToolProcess Start(string program, IEnumerable<string> arguments)
    {
        if (program == "dotnet" && Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host)
            program = host;
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in start.Environment.Keys.Where(k =>
            k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE"] = "1";
        return new ToolProcess(Process.Start(start)!);
    }

    private sealed class ToolProcess(Process process) : IDisposable
    {
        private readonly Task<string> _output = process.StandardOutput.ReadToEndAsync();
        private readonly Task<string> _errors = process.StandardError.ReadToEndAsync();

        /// <summary>Waits for the end, at most <paramref name="limit"/>; the exit code and what it printed.</summary>
        public async Task<(int Code, string Output, string Errors)> Finish(TimeSpan limit, CancellationToken cancel)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(limit);
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await _output, await _errors);
        }

        public void Dispose()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
        }
    }
}
