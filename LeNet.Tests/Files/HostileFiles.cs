using System.Diagnostics;

namespace LeNet.Tests.Files;

/// <summary>Special files for the hostile-world tests (issue 19): FIFOs made with mkfifo, the endless
/// /dev/zero.</summary>
public static class HostileFiles
{
    public const string EndlessDevice = "/dev/zero";

    /// <summary>True where FIFOs and /dev/zero exist (Linux, macOS); the tests that need them are skipped
    /// elsewhere.</summary>
    public static bool Supported => !OperatingSystem.IsWindows() && File.Exists(EndlessDevice);

    public static string Fifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { RedirectStandardError = true })!;
        mkfifo.WaitForExit();
        Assert.True(mkfifo.ExitCode == 0, $"mkfifo {path} failed: {mkfifo.StandardError.ReadToEnd()}");
        return path;
    }

    /// <summary>Runs <paramref name="read"/> on another thread and fails the test if it has not ended in 10 s, which is
    /// what a reader that opened a FIFO would do (block until a writer comes).</summary>
    public static T WithinTenSeconds<T>(Func<T> read)
    {
        var task = Task.Factory.StartNew(read, TaskCreationOptions.LongRunning);
        Assert.True(task.Wait(TimeSpan.FromSeconds(10)), "the read did not end within 10 s: it blocks on the file");
        return task.Result;
    }

    public static Exception ThrowsWithinTenSeconds(Action read) => WithinTenSeconds(() =>
    {
        try
        {
            read();
        }
        catch (Exception e)
        {
            return e;
        }
        throw new Xunit.Sdk.XunitException("the read succeeded; it should have been refused");
    });
}
