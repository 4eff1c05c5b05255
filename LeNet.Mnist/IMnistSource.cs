namespace LeNet.Mnist;

/// <summary>
/// A place the MNIST files can be fetched from: a download mirror, a package registry, a test double.
/// </summary>
public interface IMnistSource
{
    /// <summary>Says what the source is, briefly, for progress and error messages (e.g. the mirror's URL).</summary>
    string Description { get; }

    /// <summary>
    /// Writes each of <paramref name="parts"/>, gzip-compressed or raw IDX, into the stream that
    /// <paramref name="openDestination"/> returns for it, and throws when it cannot. The caller owns the
    /// streams and checks everything written, so a source needs no validation of its own.
    /// </summary>
    Task FetchAsync(IReadOnlyList<MnistPart> parts, Func<MnistPart, Stream> openDestination, Action<string> log,
        CancellationToken cancellationToken);
}
