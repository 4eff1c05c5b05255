using System.Net;
using System.Reflection;
using System.Text;
using LeNet.Core.Files;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LeNet.Train.Serve;

/// <summary>
/// The page and the API on Kestrel: <c>/</c> (the drawing page, with live training when a run is served),
/// <c>POST /api/predict</c>, <c>GET /api/model</c>, <c>GET /api/events</c> (Server-Sent Events of a run) and
/// <c>GET /health</c>. The page's files are embedded in the program, so it works from any install. Every error a
/// request can cause is a 4xx with a JSON <c>{"error": …}</c>; nothing a client sends reaches a 500.
/// </summary>
public sealed class WebServer : IAsyncDisposable
{
    /// <summary>The largest request body: an image or a batch of them.</summary>
    public const long MaxRequestBytes = 10 << 20;
    /// <summary>The most images one request may hold.</summary>
    public const int MaxImages = 256;

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly HashSet<string> ImageTypes =
    [
        "image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp", "image/x-portable-graymap",
        "application/octet-stream",
    ];

    private readonly WebApplication _app;

    /// <summary>Where the server listens, e.g. http://127.0.0.1:5000.</summary>
    public Uri Address { get; }

    private WebServer(WebApplication app, Uri address) => (_app, Address) = (app, address);

    /// <summary>
    /// Starts listening on <paramref name="host"/>:<paramref name="port"/> (0: any free port) and returns once it
    /// does; a port in use or a host that is not this machine's is an <see cref="OptionException"/>.
    /// </summary>
    public static async Task<WebServer> StartAsync(string host, int port, Func<Predictor?> predictor,
        Func<ModelInfo?> info, LiveTraining? live = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [], ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        // Ctrl-C and SIGTERM belong to the command (serve stops, train saves its checkpoint), not to the web host.
        builder.Services.AddSingleton<IHostLifetime, CommandLifetime>();
        builder.Services.Configure<FormOptions>(o =>
        {
            o.MultipartBodyLengthLimit = MaxRequestBytes;
            o.ValueCountLimit = MaxImages;
        });
        var address = ParseHost(host);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = MaxRequestBytes;
            k.AddServerHeader = false;
            k.Listen(address, port);
        });
        var app = builder.Build();
        Map(app, predictor, info, live);
        try { await app.StartAsync(); }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new OptionException($"Cannot listen on {host}:{port} ({e.Message.TrimEnd('.')}); choose another " +
                "--port, or stop the program that uses it.");
        }
        var bound = new Uri(app.Urls.First().Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "[::1]"));
        await WarmUpAsync(bound);
        return new WebServer(app, bound);
    }

    /// <summary>
    /// One request of each kind before the server is announced: their code is compiled now (fully optimised, as
    /// LeNet.Train compiles everything), not on the cores of a training run when the page first asks.
    /// </summary>
    private static async Task WarmUpAsync(Uri address)
    {
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            foreach (var path in new[] { "/health", "/api/model", "/", "/assets/app.js" })
                (await client.GetAsync(path)).Dispose();
            using var blank = new ByteArrayContent([]);
            blank.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
            (await client.PostAsync("/api/predict", blank)).Dispose();
        }
        catch (HttpRequestException) { } // a server that cannot be reached from here (a firewall) still serves
        catch (TaskCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>
    /// An IP address, or "localhost" (loopback); other host names are refused, since a server binds an address.
    /// </summary>
    public static IPAddress ParseHost(string host) =>
        host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var address) ? address
            : throw new OptionException($"--host {FileText.Printable(host)} is not an IP address; use 127.0.0.1 " +
                "(this machine only), 0.0.0.0 (every network) or one of this machine's addresses.");

    private static void Map(WebApplication app, Func<Predictor?> predictor, Func<ModelInfo?> info, LiveTraining? live)
    {
        app.Use(async (context, next) =>
        {
            // A client's mistake is a 4xx with its sentence; anything else is a 500 that still answers in JSON.
            try { await next(context); }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                await Error(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? $"The request is larger than {MaxRequestBytes >> 20} MB." : e.Message);
            }
            catch (Exception e) when (e is InvalidDataException or IOException && !context.RequestAborted
                .IsCancellationRequested && !context.Response.HasStarted)
            {
                await Error(context, StatusCodes.Status400BadRequest,
                    $"The request body cannot be read ({FileText.Printable(e.Message.TrimEnd('.'))}).");
            }
        });
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.ContentSecurityPolicy =
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
                    "frame-ancestors 'none'";
            return next(context);
        });
        app.MapGet("/", () => Asset("index.html"));
        app.MapGet("/assets/{*path}", (string path) => Asset(path));
        app.MapGet("/health", () => Results.Json(new { status = "ok" }));
        app.MapGet("/api/model", () => info() is { } model ? Results.Json(model, JsonOptions)
            : Problem(StatusCodes.Status503ServiceUnavailable, "The model is not ready yet: training is starting."));
        app.MapPost("/api/predict", (Delegate)((HttpContext context) => Predict(context, predictor, live)));
        app.MapGet("/api/events", (Delegate)((HttpContext context) => live is null
            ? Task.FromResult(Problem(StatusCodes.Status404NotFound,
                "No training run is served here; train with --serve to watch one."))
            : Events(context, live)));
    }

    private static async Task<IResult> Predict(HttpContext context, Func<Predictor?> predictor, LiveTraining? live)
    {
        if (predictor() is not { } model)
            return Problem(StatusCodes.Status503ServiceUnavailable,
                "The model is not ready yet: training is starting.");
        live?.Asked();
        var request = context.Request;
        var type = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        var images = new List<(string Name, byte[] Bytes)>();
        if (type == "multipart/form-data")
        {
            var form = await request.ReadFormAsync(context.RequestAborted);
            if (form.Files.Count > MaxImages)
                return Problem(StatusCodes.Status400BadRequest, $"A request may hold at most {MaxImages} images.");
            foreach (var file in form.Files)
            {
                using var stream = new MemoryStream();
                await file.CopyToAsync(stream, context.RequestAborted);
                images.Add((string.IsNullOrEmpty(file.FileName) ? file.Name : file.FileName, stream.ToArray()));
            }
            if (images.Count == 0)
                return Problem(StatusCodes.Status400BadRequest, "The form holds no file; send images as form files.");
        }
        else if (type is not null && ImageTypes.Contains(type))
        {
            using var stream = new MemoryStream();
            await request.Body.CopyToAsync(stream, context.RequestAborted);
            images.Add((request.Query["name"] is [{ } name] ? name : "image", stream.ToArray()));
        }
        else
            return Problem(StatusCodes.Status415UnsupportedMediaType,
                $"Send an image (Content-Type image/png, image/jpeg, image/bmp, image/gif or image/webp) or a " +
                $"multipart form of them, not {(type is null ? "no Content-Type" : FileText.Printable(type))}.");
        var seen = request.Query["seen"] is ["1" or "true"];
        var predictions = model.Predict(images, seen);
        return predictions.FirstOrDefault(p => p.Error is not null) is { } failed
            ? Results.Json(new { error = failed.Error, predictions }, JsonOptions,
                statusCode: StatusCodes.Status400BadRequest)
            : Results.Json(predictions, JsonOptions);
    }

    private static async Task<IResult> Events(HttpContext context, LiveTraining live)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var subscription = live.Subscribe();
        try
        {
            // The events so far as one message (a JSON array), at most one a second: a run makes about a hundred an
            // epoch, and each message wakes the browser, which shares the cores with the run.
            var events = subscription.Events;
            var text = new StringBuilder();
            while (await events.WaitToReadAsync(context.RequestAborted))
            {
                text.Append("data: [");
                while (events.TryRead(out var json)) text.Append(json).Append(',');
                if (text[^1] == ',') text.Length--;
                text.Append("]\n\n");
                await response.WriteAsync(text.ToString(), context.RequestAborted);
                await response.Body.FlushAsync(context.RequestAborted);
                text.Clear();
                await Task.Delay(1000, context.RequestAborted);
            }
        }
        catch (OperationCanceledException) { } // the page went away
        return Results.Empty;
    }

    private static IResult Problem(int status, string message) =>
        Results.Json(new { error = message }, JsonOptions, statusCode: status);

    private static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error = message });
    }

    private static readonly Assembly Self = typeof(WebServer).Assembly;

    private static IResult Asset(string path)
    {
        // Only the embedded files answer: a name is looked up, never joined to a folder.
        var stream = Self.GetManifestResourceStream("wwwroot/" + path);
        if (stream is null) return Problem(StatusCodes.Status404NotFound, "There is no such page.");
        var type = Path.GetExtension(path) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            _ => "text/plain; charset=utf-8",
        };
        return Results.Stream(stream, type);
    }

    private sealed class CommandLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
