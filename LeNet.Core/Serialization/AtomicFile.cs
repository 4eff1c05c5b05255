using LeNet.Core.Files;
using static LeNet.Core.Files.ReadableFile;

namespace LeNet.Core.Serialization;

/// <summary>
/// The one way the program writes a file. What a path names decides how:
/// <list type="bullet">
/// <item>a regular file, or nothing yet: atomically. Readers see either the old complete file or the new one: the
/// content goes to a uniquely named temporary file in the same folder (<see cref="TemporaryName"/>), is flushed to
/// disk, then renamed over the target. On failure the temporary file is removed, the file that was there is
/// untouched, and a <see cref="FileWriteException"/> says so.</item>
/// <item><c>-</c>, <c>/dev/stdout</c> or <c>/dev/stderr</c>: this process's own standard output or error.</item>
/// <item>a character device or a FIFO (links followed; Linux tells them): written straight through, never replaced
/// by a regular file, so <c>/dev/null</c> or a pipe to another program works. A FIFO waits for its reader.</item>
/// <item>anything else is refused and left untouched: a folder, a block device, a socket, and a symbolic link to a
/// file (or to nothing). Renaming over a link would replace the link; writing its target would let anyone who can
/// put a link in an output folder have the program overwrite any file it may write. The user names the target.</item>
/// </list>
/// </summary>
public static partial class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = StandardStream(path) is null ? Path.GetFullPath(path) : path;
        if (Refusal(path) is { } refusal)
            throw new FileWriteException($"Cannot write {FileText.Escape(full)}: {refusal}; nothing was written.");
        var straight = StandardStream(path) is not null || WrittenThrough(full);
        var temporary = Path.Combine(Path.GetDirectoryName(full) ?? ".", TemporaryName(Path.GetFileName(full)));
        try
        {
            // Composed in memory first, so that the file's exceptions are told from the caller's: .NET reports a write
            // past the file size limit (EFBIG) as an ArgumentOutOfRangeException, a failed write here, not a bug.
            using var content = new MemoryStream();
            write(content);
            try
            {
                if (straight)
                {
                    WriteStraight(path, full, content);
                    return;
                }
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    stream.Write(content.GetBuffer(), 0, (int)content.Length);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temporary, full, overwrite: true);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new IOException(
                    $"it would be larger than the file system or the process's file size limit allows: {e.Message}", e);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not FileWriteException)
        {
            var kept = straight ? "what it received may be incomplete"
                : File.Exists(full) ? $"the {Path.GetFileName(full)} that was there is unchanged"
                : "nothing was written there";
            throw new FileWriteException(
                $"Could not write {FileText.Escape(full)} ({e.Message.TrimEnd('.')}), so {kept}; free some space or " +
                "fix the folder's permissions, and try again.", e);
        }
        finally
        {
            if (!straight)
            {
                try { if (File.Exists(temporary)) File.Delete(temporary); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the error says more
            }
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(text);
        });

    /// <summary>Why <paramref name="path"/> will not be written (a clause that says what to do), or null when it
    /// will be: the rules of this class, and a folder for it that exists. Commands check their output paths with it
    /// before any work.</summary>
    public static string? Refusal(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return "an empty path names no file; name the file to write";
        if (StandardStream(path) is not null) return null;
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) return "it is a folder; name a file in it";
        if (WrittenThrough(full)) return null;
        var entry = new FileInfo(full);
        if (entry.LinkTarget is { } target)
            return $"it is a symbolic link (to {FileText.Escape(target)}), which is never written through; name the " +
                "file it points to, or remove the link";
        if (Kind(full, followLinks: false) is { } kind and not FileKind.Regular)
            return $"it is {(kind is FileKind.BlockDevice ? "a block device" : kind is FileKind.Socket ? "a socket"
                : "not a regular file")}, which is never written; name a regular file";
        if (!Directory.Exists(entry.DirectoryName))
            return $"its folder {FileText.Escape(entry.DirectoryName ?? "")} does not exist; create it, or choose " +
                "another path";
        return null;
    }

    /// <summary>True where <paramref name="path"/> is this process's standard output (<c>-</c> or
    /// <c>/dev/stdout</c>), which a command may route to its own output writer.</summary>
    public static bool IsStandardOutput(string path) => StandardStream(path) == 1;

    /// <summary>True where <paramref name="path"/> is written straight through: a standard stream, a character
    /// device or a FIFO.</summary>
    public static bool IsWrittenThrough(string path) =>
        StandardStream(path) is not null || !string.IsNullOrWhiteSpace(path) && WrittenThrough(Path.GetFullPath(path));

    /// <summary>The name of the temporary file a write to <paramref name="fileName"/> goes to first:
    /// <c>.NAME.&lt;32 hex digits&gt;.tmp</c>; one left by a killed process may be deleted by whoever owns the
    /// folder.</summary>
    public static string TemporaryName(string fileName) => $".{fileName}.{Guid.NewGuid():N}.tmp";

    /// <summary>True for a name <see cref="TemporaryName"/> makes.</summary>
    public static bool IsTemporaryName(string fileName) => TemporaryNamePattern().IsMatch(fileName);

    [System.Text.RegularExpressions.GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp\z")]
    private static partial System.Text.RegularExpressions.Regex TemporaryNamePattern();

    // 1 or 2 for the names of the standard output or error (whose descriptors the process already holds: opening
    // /dev/stdout anew would start at the beginning of a file the shell redirected it to), else null.
    private static int? StandardStream(string path) => path switch
    {
        "-" or "/dev/stdout" => 1,
        "/dev/stderr" => 2,
        _ => null,
    };

    private static bool WrittenThrough(string full) =>
        Kind(full) is FileKind.CharacterDevice or FileKind.Fifo;

    private static void WriteStraight(string path, string full, MemoryStream content)
    {
        using var stream = StandardStream(path) is { } standard
            ? standard == 1 ? Console.OpenStandardOutput() : Console.OpenStandardError()
            // Open, not Create: a device or FIFO is written as it is, never truncated, created or replaced.
            : new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        stream.Write(content.GetBuffer(), 0, (int)content.Length);
        stream.Flush();
    }
}
