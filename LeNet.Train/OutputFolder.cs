using LeNet.Core.Files;
using static LeNet.Core.Files.ReadableFile;

namespace LeNet.Train;

/// <summary>
/// A run's --output folder, claimed for the run: it exists (a missing folder is created when its parent exists, so a
/// mistyped parent path is refused rather than silently created), it is writable, and this run holds its lock file.
/// The lock is an exclusive lock on <see cref="LockFileName"/> (FileShare.None: flock on Unix, a share mode on
/// Windows), held until <see cref="Dispose"/>, which deletes the file; the operating system drops the lock of a
/// process that dies, so a lock file left by a killed run does not block the next one. A second run on the same
/// folder is refused in one sentence. Disposing also removes the folder again if this run created it and left it empty.
/// The lock file is never written through a link: anything but a regular file at its name is refused, and the file
/// opened is checked to be the one in the folder before a byte is written (docs/reliability.md). Once locked, the
/// temporary files that writes killed midway left (<see cref="AtomicFile.IsTemporaryName"/>) are removed.
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
        var (full, created) = Create(folder, option);
        FileStream? lockStream = null;
        try
        {
            CheckWritable(full, option);
            lockStream = Lock(full, option);
            RemoveStaleTemporaries(full);
            return new OutputFolder(full, lockStream, created);
        }
        catch
        {
            lockStream?.Dispose();
            if (created) RemoveIfEmpty(full);
            throw;
        }
    }

    /// <summary>
    /// The full path of <paramref name="folder"/> (named <paramref name="option"/> in any refusal), created when it is
    /// missing and its parent exists (a mistyped parent is refused rather than silently created); created tells
    /// whether this call made it. A file, or a special file, where the folder should be is refused.
    /// </summary>
    public static (string Full, bool Created) Create(string folder, string option)
    {
        if (string.IsNullOrWhiteSpace(folder))
            throw new OptionException($"{option} is empty; name the folder to write to.");
        var full = System.IO.Path.GetFullPath(folder);
        if (Directory.Exists(full)) return (full, false);
        if (File.Exists(full) || new FileInfo(full).LinkTarget is not null)
            throw new OptionException($"Cannot create the folder {full} given by {option}: a file of that name is " +
                "there; name a folder, or move the file.");
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
        return (full, true);
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

    /// <summary>
    /// Refuses, before any work, an output file named by <paramref name="option"/> that <see cref="AtomicFile"/> would
    /// not write (a folder, a link, a missing folder, ...) or whose folder cannot be written.
    /// </summary>
    public static void CheckFile(string file, string option)
    {
        // Like --output, the file's folder may be new when only its last part is missing: it is made here.
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file));
        if (!string.IsNullOrWhiteSpace(file) && !AtomicFile.IsWrittenThrough(file) && folder is not null
            && !Directory.Exists(folder) && Directory.Exists(System.IO.Path.GetDirectoryName(folder)))
            CheckWritable(folder, option);
        if (AtomicFile.Refusal(file) is { } refusal)
            throw new OptionException($"Cannot write {FileText.Escape(file)} (for {option}): {refusal}.");
        // A device, a FIFO or a standard stream is written straight through, not by a file created beside it.
        if (!AtomicFile.IsWrittenThrough(file))
            CheckWritable(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!, option);
    }

    private static FileStream Lock(string folder, string option)
    {
        var path = System.IO.Path.Combine(folder, LockFileName);
        // A run that ends deletes the lock file before it lets go of it; a run that opened the file just before that
        // would lock a file no longer in the folder, so it checks and tries again.
        for (var attempt = 0; ; attempt++)
        {
            RefuseUnlessRegular(path, option);
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
            // The name may have been swapped for a link between the check and the open: the file opened must be the
            // one now in the folder, not a link's target, before anything is written to it.
            if (Identity(stream.SafeFileHandle) is { } opened && opened != Identity(path, followLinks: false))
            {
                stream.Dispose();
                RefuseUnlessRegular(path, option);
                if (attempt < 10) continue;
                throw new OptionException(
                    $"The lock file {path} keeps being replaced while this run opens it; choose another {option} " +
                    "folder.");
            }
            if (File.Exists(path) || attempt == 10)
            {
                stream.SetLength(0);
                using var writer = new StreamWriter(stream, leaveOpen: true);
                writer.Write($"LeNet.Train, process {Environment.ProcessId}, since {DateTime.UtcNow:O}\n");
                writer.Flush();
                return stream;
            }
            stream.Dispose();
        }
    }

    // A link or a special file at the lock's name is not a lock a run left: it is refused, and its target untouched.
    private static void RefuseUnlessRegular(string path, string option)
    {
        var entry = new FileInfo(path);
        var what = entry.LinkTarget is { } target ? $"a symbolic link (to {FileText.Escape(target)})"
            : Directory.Exists(path) ? "a folder"
            : Kind(path, followLinks: false) is { } kind and not FileKind.Regular ? "not a regular file"
            : null;
        if (what is not null)
            throw new OptionException(
                $"The lock file {path} is {what}, which a run never writes through; remove it, or choose another " +
                $"{option} folder.");
    }

    // Only this program's own naming, and only regular files: a kill -9 during a write leaves these behind, and a run
    // that holds the lock knows that no write of its own is under way.
    private static void RemoveStaleTemporaries(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            if (!AtomicFile.IsTemporaryName(System.IO.Path.GetFileName(file))) continue;
            try
            {
                if (new FileInfo(file).LinkTarget is null && Kind(file, followLinks: false) is null or FileKind.Regular)
                    File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // harmless where it stays
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
