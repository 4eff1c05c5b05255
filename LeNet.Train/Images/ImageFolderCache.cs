// The image-folder dataset's cache: the converted files beside the images, with a manifest holding the source
// listing's checksum and each file's SHA-256, so that a changed folder is converted again and a damaged cache is
// never trusted.
using System.Security.Cryptography;
using LeNet.Core.Files;

namespace LeNet.Train.Images;

/// <summary>
/// Reads and writes the files of one converted image folder in <c>.lenet-cache</c>. Every file is written atomically
/// and the manifest last; a manifest whose checksums do not match the files (a crash between two writes, an edit, a
/// damaged disk) is refused like a missing one, and the images are converted again.
/// </summary>
internal static class ImageFolderCache
{
    public const string FolderName = ".lenet-cache";
    public const string ManifestName = "manifest.json";

    // Bumped whenever the conversion or the files change, so that an older build's cache is converted again (2: the
    // conversion leaves out the paper's shading and specks).
    private const int Format = 2;

    // The manifest lists the skipped images' messages: a few hundred bytes each.
    private const long MaxManifestBytes = 64L << 20;

    /// <summary>The cached files by name and the messages of the images skipped when they were converted.</summary>
    public sealed record Contents(IReadOnlyDictionary<string, byte[]> Files, IReadOnlyList<string> Skipped);

    private sealed record Manifest(int Format, string? Source, Dictionary<string, string>? Files, string[]? Skipped);

    /// <summary>
    /// The files <paramref name="names"/> cached for the listing whose checksum is <paramref name="source"/>, or null
    /// when there is no cache to trust; a cache that is there but stale or damaged is logged before it is passed over.
    /// </summary>
    public static Contents? Read(string folder, string source, IReadOnlyList<string> names, Action<string> log)
    {
        var manifestPath = Path.Combine(folder, ManifestName);
        if (!File.Exists(manifestPath)) return null;
        var shown = FileText.Escape(folder);
        try
        {
            var manifest = JsonSerializer.Deserialize<Manifest>(
                ReadableFile.ReadAllText(manifestPath, MaxManifestBytes));
            if (manifest is not { Source: not null, Files: not null, Skipped: not null } || manifest.Format != Format)
                return Damaged(log, shown, "its manifest is not one this build writes");
            if (manifest.Source != source)
            {
                log($"The cache in {shown} is out of date (the images changed since it was written); " +
                    "converting again.");
                return null;
            }
            var files = new Dictionary<string, byte[]>();
            foreach (var name in names)
            {
                if (!manifest.Files.TryGetValue(name, out var expected))
                    return Damaged(log, shown, $"its manifest does not list {name}");
                var bytes = ReadableFile.ReadAllBytes(Path.Combine(folder, name), Array.MaxLength);
                if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != expected)
                    return Damaged(log, shown, $"{name} does not match its checksum");
                files[name] = bytes;
            }
            return new Contents(files, manifest.Skipped.Select(FileText.Escape).ToArray());
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return Damaged(log, shown, FileText.Escape(e.Message.TrimEnd('.')));
        }
    }

    private static Contents? Damaged(Action<string> log, string shown, string why)
    {
        log($"The cache in {shown} cannot be used ({why}); converting again.");
        return null;
    }

    /// <summary>Writes <paramref name="files"/> and then their manifest into <paramref name="folder"/>; returns null,
    /// or the one-sentence reason the cache could not be written (the data are used all the same).</summary>
    public static string? Write(string folder, string source, IReadOnlyDictionary<string, byte[]> files,
        IReadOnlyList<string> skipped)
    {
        try
        {
            Directory.CreateDirectory(folder);
            foreach (var (name, bytes) in files)
                AtomicFile.Write(Path.Combine(folder, name), stream => stream.Write(bytes));
            var checksums = files.ToDictionary(f => f.Key, f => Convert.ToHexStringLower(SHA256.HashData(f.Value)));
            AtomicFile.WriteAllText(Path.Combine(folder, ManifestName),
                JsonSerializer.Serialize(new Manifest(Format, source, checksums, skipped.ToArray())));
            return null;
        }
        catch (FileWriteException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"Could not create {FileText.Escape(folder)} ({FileText.Escape(e.Message.TrimEnd('.'))}).";
        }
    }
}
