namespace LeNet.Core.Serialization;

/// <summary>
/// Readers see either the old complete file or the new one: the content goes to a uniquely named temporary file in
/// the same folder, is flushed to disk, then renamed over the target. On failure the temporary file is removed, the
/// file that was there is untouched, and a <see cref="FileWriteException"/> says so.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // Composed in memory first, so that the file's exceptions are told from the caller's: .NET reports a write
            // past the file size limit (EFBIG) as an ArgumentOutOfRangeException, a failed write here, not a bug.
            using var content = new MemoryStream();
            write(content);
            try
            {
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
            var kept = File.Exists(full)
                ? $"the {Path.GetFileName(full)} that was there is unchanged"
                : "nothing was written there";
            throw new FileWriteException(
                $"Could not write {full} ({e.Message.TrimEnd('.')}), so {kept}; free some space or fix the folder's " +
                "permissions, and try again.", e);
        }
        finally
        {
            try { if (File.Exists(temporary)) File.Delete(temporary); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the error says more
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(text);
        });
}
