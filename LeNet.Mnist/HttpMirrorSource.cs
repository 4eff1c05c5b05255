namespace LeNet.Mnist;

/// <summary>
/// An HTTP(S) mirror serving the four gzip files under one base URL, as the canonical MNIST mirrors do.
/// </summary>
public sealed class HttpMirrorSource : IMnistSource
{
    /// <summary>The mirrors torchvision uses, in the order it tries them.</summary>
    public static IReadOnlyList<Uri> DefaultMirrors { get; } =
    [
        new("https://ossci-datasets.s3.amazonaws.com/mnist/"),
        new("https://storage.googleapis.com/cvdf-datasets/mnist/"),
    ];

    public static TimeSpan DefaultTimeoutPerFile { get; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The largest MNIST file is under 10 MB compressed; anything far larger is not MNIST and must not fill the disk.
    /// </summary>
    public const long MaxFileBytes = 64L << 20;

    // One client for the process: HttpClient is meant to be reused, and per-file timeouts are applied
    // with cancellation tokens instead of its own Timeout.
    private static readonly Lazy<HttpClient> SharedClient = new(() =>
        new HttpClient { Timeout = Timeout.InfiniteTimeSpan });

    private readonly Uri _baseUri;
    private readonly TimeSpan _timeoutPerFile;
    private readonly HttpClient _client;

    public HttpMirrorSource(Uri baseUri, TimeSpan? timeoutPerFile = null, HttpClient? client = null)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        // Without the trailing slash, relative file names would replace the last path segment.
        _baseUri = baseUri.AbsoluteUri.EndsWith('/') ? baseUri : new Uri(baseUri.AbsoluteUri + "/");
        _timeoutPerFile = timeoutPerFile ?? DefaultTimeoutPerFile;
        _client = client ?? SharedClient.Value;
    }

    public string Description => _baseUri.AbsoluteUri;

    public async Task FetchAsync(IReadOnlyList<MnistPart> parts,
        Func<MnistPart, Stream> openDestination, Action<string> log,
        CancellationToken cancellationToken)
    {
        foreach (MnistPart part in parts)
        {
            string fileName = MnistFiles.FileName(part) + ".gz";
            log($"Downloading {fileName} from {_baseUri} ...");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_timeoutPerFile);
            try
            {
                using HttpResponseMessage response = await _client.GetAsync(new Uri(_baseUri, fileName),
                    HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (!response.IsSuccessStatusCode)
                    throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase} for " +
                        $"{fileName}", null, response.StatusCode);
                if (response.Content.Headers.ContentLength > MaxFileBytes)
                    throw new InvalidDataException($"{fileName} is {response.Content.Headers.ContentLength:N0} " +
                        "bytes, too large to be MNIST");
                await using Stream body = await response.Content.ReadAsStreamAsync(timeout.Token);
                await CopyBoundedAsync(body, openDestination(part), fileName, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{fileName} did not arrive within {_timeoutPerFile.TotalSeconds:0} s");
            }
        }
    }

    private static async Task CopyBoundedAsync(Stream source, Stream destination, string fileName,
        CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
            if (total > MaxFileBytes)
                throw new InvalidDataException($"{fileName} is larger than {MaxFileBytes:N0} bytes, " +
                    "too large to be MNIST");
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }
}
