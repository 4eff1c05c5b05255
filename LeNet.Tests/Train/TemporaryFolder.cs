namespace LeNet.Tests.Train;

/// <summary>A fresh folder under the system's temporary folder, removed with everything in it on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("lenet-tests-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);

    /// <summary>
    /// Makes <paramref name="folder"/> read-only (r-x) where that stops writes: not on Windows, and not for root, who
    /// writes anyway; returns whether it did. <see cref="MakeWritable"/> undoes it.
    /// </summary>
    public static bool MakeReadOnly(string folder)
    {
        if (OperatingSystem.IsWindows() || Environment.IsPrivilegedProcess) return false;
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        return true;
    }

    /// <summary>Why a read-only folder cannot be made here, for a test that needs one to report itself
    /// skipped.</summary>
    public static string ReadOnlyUnavailable => OperatingSystem.IsWindows()
        ? "Windows folders have no read-only mode that stops writes"
        : "running as root, who writes into read-only folders: permission denied cannot happen here";

    public static void MakeWritable(string folder)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(folder,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
