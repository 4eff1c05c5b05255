using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LeNet.Tests.Train;

/// <summary>
/// A running LeNet.Train process (the build beside the tests), its output collected as it comes: for the tests that
/// interrupt, lock out or starve a real training run.
/// </summary>
internal sealed partial class TrainerProcess : IDisposable
{
    public const int Sigint = 2, Sigterm = 15;

    private readonly Process _process;
    private readonly Task<string> _errors;
    private readonly List<string> _lines = [];
    private readonly Task _reader;
    private readonly SemaphoreSlim _lineArrived = new(0);

    private TrainerProcess(Process process)
    {
        _process = process;
        _errors = process.StandardError.ReadToEndAsync();
        _reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (_lines) _lines.Add(line);
                _lineArrived.Release();
            }
            _lineArrived.Release();
        });
    }

    /// <summary>Starts <c>dotnet LeNet.Train.dll</c> with <paramref name="arguments"/>.</summary>
    public static TrainerProcess Start(IEnumerable<string> arguments) => new(ResumeTests.StartTrainer(arguments));

    /// <summary>
    /// Starts it through bash with <c>ulimit -f</c>: no file it writes may exceed <paramref name="kilobytes"/> KiB, as
    /// on a nearly full disk; even root cannot exceed it. SIGXFSZ is ignored so that the write fails with EFBIG instead
    /// of killing the process, and the runtime's W^X double mapping, which needs a large file of its own, is turned
    /// off.
    /// </summary>
    public static TrainerProcess StartWithFileSizeLimit(int kilobytes, IEnumerable<string> arguments)
    {
        var program = Path.Combine(AppContext.BaseDirectory, "LeNet.Train.dll");
        var (launcher, launcherArguments) = Launcher();
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"ulimit -f {kilobytes} && trap '' XFSZ && exec \"$0\" \"$@\"");
        start.ArgumentList.Add(launcher);
        foreach (var argument in launcherArguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add(program);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        return new TrainerProcess(Process.Start(start)!);
    }

    /// <summary>
    /// The program that starts <c>dotnet</c> (the one running these tests when known) and its first arguments. A test
    /// process started with SIGINT ignored (under nohup, or by a CI runner that starts jobs with &amp; in a shell
    /// without job control) passes that on to every child, and .NET then keeps ignoring it, as a shell's background job
    /// should: the trainer is then started through coreutils' <c>env --default-signal=INT</c>, so that it meets Ctrl-C
    /// as it does in a terminal.
    /// </summary>
    public static (string Program, string[] Arguments) Launcher()
    {
        var dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? host : "dotnet";
        return (IgnoredSignals(Environment.ProcessId) >> (Sigint - 1) & 1) != 0
            ? ("env", ["--default-signal=INT", dotnet])
            : (dotnet, []);
    }

    public int Id => _process.Id;

    /// <summary>The standard output lines so far.</summary>
    public string[] Lines
    {
        get { lock (_lines) return [.. _lines]; }
    }

    /// <summary>Waits for an output line containing <paramref name="text"/>; false if the process ended (or 3 minutes
    /// passed) first.</summary>
    public async Task<bool> WaitForLine(string text, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (Lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
            if (_reader.IsCompleted) return false;
            await _lineArrived.WaitAsync(TimeSpan.FromSeconds(1), cancel);
        }
        return false;
    }

    /// <summary>Sends <paramref name="signal"/> (<see cref="Sigint"/>, <see cref="Sigterm"/>) to the process, as Ctrl-C
    /// or `kill` would.</summary>
    public void Signal(int signal)
    {
        if ((IgnoredSignals(_process.Id) >> (signal - 1) & 1) != 0)
            throw new InvalidOperationException(
                $"The trainer ignores signal {signal}: it inherited that from this test process (started under " +
                "nohup, or with & in a shell without job control; .NET keeps SIGINT and SIGQUIT ignored then), and " +
                    "env --default-signal=INT " +
                "did not restore it (coreutils older than 8.31?). Run the tests in the foreground.");
        if (Kill(_process.Id, signal) != 0)
            throw new InvalidOperationException(
                $"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
    }

    /// <summary>Waits for the end; returns the exit code, the standard output and the standard error.</summary>
    public async Task<(int ExitCode, string Output, string Errors)> WaitForExit(CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        await _process.WaitForExitAsync(timeout.Token);
        await _reader;
        return (_process.ExitCode, string.Join('\n', Lines), await _errors);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    /// <summary>The mask of signals <paramref name="pid"/> ignores (bit n − 1 for signal n), from /proc; 0 where there
    /// is no /proc or the process has ended.</summary>
    private static ulong IgnoredSignals(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status")
                .FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is null ? 0 : Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
