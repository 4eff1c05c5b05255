namespace LeNet.Train;

/// <summary>
/// A run's --output folder, claimed for the run: it exists (a missing folder is created when its parent exists, so a
/// mistyped parent path is refused rather than silently created), it is writable, and this run holds its lock file.
/// The lock is an exclusive lock on <see cref="LockFileName"/> (FileShare.None: flock on Unix, a share mode on
/// Windows), held until <see cref="Dispose"/>, which deletes the file; the operating system drops the lock of a
/// process that dies, so a lock file left by a killed run does not block the next one. A second run on the same
/// folder is refused in one sentence. Disposing also removes the folder again if this run created it and left it empty.
/// </summary>
public sealed class OutputFolder : IDisposable
{
    public const string LockFileName = ".lenet-train.lock";
    private readonly FileStream _lock;
    private readonly bool _created;

    private OutputFolder(string path, FileStream lockStream, bool created) =>
        (Path, _lock, _created) = (path, lockStream, created);

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>Claims <paramref name="folder"/>, named <paramref name="option"/> in any refusal.</summary>
    public static OutputFolder Claim(string folder, string option = "--output")
    {
        var full = System.IO.Path.GetFullPath(folder);
        var created = false;
        if (!Directory.Exists(full))
        {
            var parent = System.IO.Path.GetDirectoryName(full);
            if (parent is null || !Directory.Exists(parent))
                throw new OptionException(
                    $"Cannot create the folder {full} given by {option}: its parent {parent} " +
                    $"{(File.Exists(parent) ? "is a file" : "does not exist")}; create that folder first, or choose " +
                    "another.");
            try { Directory.CreateDirectory(full); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OptionException(
                    $"Cannot create the folder {full} given by {option} ({e.Message}); choose a writable folder.");
            }
            created = true;
        }
        FileStream? lockStream = null;
        try
        {
            CheckWritable(full, option);
            lockStream = Lock(full, option);
            return new OutputFolder(full, lockStream, created);
        }
        catch
        {
            lockStream?.Dispose();
            if (created) RemoveIfEmpty(full);
            throw;
        }
    }

    /// <summary>Creates and deletes a file in <paramref name="folder"/>, refusing an unwritable one early.</summary>
    public static void CheckWritable(string folder, string option)
    {
        try
        {
            Directory.CreateDirectory(folder);
            var probe = System.IO.Path.Combine(folder, $".write-test-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException
            or NotSupportedException)
        {
            throw new OptionException(
                $"Cannot write to the folder {folder} given by {option} ({e.Message}); choose a writable folder.");
        }
    }

    private static FileStream Lock(string folder, string option)
    {
        var path = System.IO.Path.Combine(folder, LockFileName);
        // A run that ends deletes the lock file before it lets go of it; a run that opened the file just before that
        // would lock a file no longer in the folder, so it checks and tries again.
        for (var attempt = 0; ; attempt++)
        {
            FileStream stream;
            try { stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (File.Exists(path))
            {
                throw new OptionException(
                    $"Another training run is writing to the folder {folder} (it holds {LockFileName} there); wait " +
                    $"for it to end, or choose another {option} folder.");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OptionException(
                    $"Cannot create the lock file {path} ({e.Message}); choose a writable {option} folder.");
            }
            if (File.Exists(path) || attempt == 10)
            {
                using var writer = new StreamWriter(stream, leaveOpen: true);
                writer.Write($"LeNet.Train, process {Environment.ProcessId}, since {DateTime.UtcNow:O}\n");
                writer.Flush();
                return stream;
            }
            stream.Dispose();
        }
    }

    /// <summary>Deletes the lock file, then unlocks; removes the folder if this run created it, now empty.</summary>
    public void Dispose()
    {
        // Should the file stay, the lock still ends with this process.
        try { File.Delete(System.IO.Path.Combine(Path, LockFileName)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        _lock.Dispose();
        if (_created) RemoveIfEmpty(Path);
    }

    // An empty folder that cannot be removed is harmless.
    private static void RemoveIfEmpty(string folder)
    {
        try
        {
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                Directory.Delete(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
