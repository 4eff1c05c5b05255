using System.Net;
using System.Net.Sockets;
using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>Downloads from a mirror on the loopback interface: no network needed.</summary>
public sealed class HttpMirrorSourceTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly HttpListener _listener = new();
    private readonly string _prefix;

    public HttpMirrorSourceTests()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _prefix = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(_prefix);
        _listener.Start();
        _ = ServeAsync();
    }

    /// <summary>Serves the real gzip files under /good/, and 404 for everything else.</summary>
    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            string path = context.Request.Url!.AbsolutePath;
            MnistPart? part = MnistFiles.AllParts.Cast<MnistPart?>()
                .FirstOrDefault(p => path == $"/good/{MnistFiles.FileName(p!.Value)}.gz");
            if (part is null)
                context.Response.StatusCode = 404;
            else
                await context.Response.OutputStream.WriteAsync(FakeMnistSource.RealFile(part.Value));
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _directory.Dispose();
    }

    [Fact]
    public async Task DownloadsFromTheFirstMirrorThatServes()
    {
        var log = new List<string>();
        var acquirer = new MnistAcquirer(log.Add, mirrors: [new Uri(_prefix + "missing"), new Uri(_prefix + "good")],
            npmCommand: null);

        await acquirer.AcquireAsync(_directory.Path, TestContext.Current.CancellationToken);

        Assert.Equal(MnistFiles.AllParts.Select(p => MnistFiles.FileName(p) + ".gz").Order(StringComparer.Ordinal),
            _directory.FileNames());
        Assert.Contains(log, line => line.StartsWith($"{_prefix}missing/ failed: HTTP 404", StringComparison.Ordinal));
        Assert.Contains(log, line => line == $"Downloading t10k-labels-idx1-ubyte.gz from {_prefix}good/ ...");
    }
}
