// A bounded load test of `LeNet.Train serve` on loopback (benchmarks/serve.md): real MNIST test digits encoded as PNG,
// every answer's label checked against the one the server gave for that image alone, one request at a time, before the
// load; throughput, latency percentiles, errors, and the server's resident memory between the phases.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using LeNet.Mnist;
using SkiaSharp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Options o;
try { o = Options.Parse(args); }
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

// ---- The images -------------------------------------------------------------------------------------------------
var mnistImages = MnistFiles.Read(o.Mnist, MnistPart.TestImages, verifyChecksum: false);
var mnistLabels = MnistFiles.Read(o.Mnist, MnistPart.TestLabels, verifyChecksum: false);
var digits = Enumerable.Range(0, o.Digits)
    .Select(i => Digits.Png(mnistImages.Data.AsSpan(i * 784, 784), o.Sizes[i % o.Sizes.Length])).ToArray();
Console.WriteLine($"{digits.Length} MNIST test digits as PNG, {string.Join("/", o.Sizes)} px square " +
    $"({digits.Sum(d => (long)d.Length) / digits.Length} bytes on average)");
if (o.Export is { } folder)
{
    Directory.CreateDirectory(folder);
    for (var i = 0; i < digits.Length; i++) File.WriteAllBytes(Path.Combine(folder, $"digit-{i:D5}.png"), digits[i]);
    File.WriteAllLines(Path.Combine(folder, "labels.txt"),
        Enumerable.Range(0, digits.Length).Select(i => mnistLabels.Data[i].ToString(CultureInfo.InvariantCulture)));
    Console.WriteLine($"Written to {folder}/digit-00000.png … and labels.txt");
    return 0;
}

// ---- The server -------------------------------------------------------------------------------------------------
using var server = o.Url is null ? Server.Start(o.ServerDll, o.Model!) : null;
var baseUri = new Uri(o.Url ?? server!.Url);
var pid = server?.Pid ?? o.Pid;
using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = o.Clients, UseProxy = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
}) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(60) };
await Server.WaitHealthy(http, TimeSpan.FromSeconds(60));
Console.WriteLine($"Server at {baseUri} (pid {(pid?.ToString(CultureInfo.InvariantCulture) ?? "unknown")}), healthy");
var memory = new List<(string When, long RssKb, long PeakKb)>();
void Memory(string when)
{
    if (pid is not { } p) return;
    var (rss, peak) = ProcStatus.Rss(p);
    memory.Add((when, rss, peak));
    Console.WriteLine($"  server VmRSS {rss / 1024.0:F1} MiB (VmHWM {peak / 1024.0:F1} MiB): {when}");
}
Memory("started, before any request");

// ---- The answers, one request at a time -------------------------------------------------------------------------
var expected = new Answer[digits.Length];
for (var i = 0; i < digits.Length; i++)
{
    var answers = Client.Parse(await Client.PostImage(http, digits[i]), 1)
        ?? throw new InvalidOperationException($"digit {i}: no answer single-threaded");
    expected[i] = answers[0];
}
var agree = Enumerable.Range(0, digits.Length).Count(i => expected[i].Label == mnistLabels.Data[i]);
Console.WriteLine($"Reference answers, one request at a time: {digits.Length} images, {agree} agree with MNIST's " +
    $"label ({100.0 * agree / digits.Length:F2} %)");

var batches = Enumerable.Range(0, Math.Min(16, Math.Max(1, digits.Length / o.Batch)))
    .Select(b => Client.Multipart(digits, b * o.Batch, o.Batch)).ToArray();

// ---- Warm-up ----------------------------------------------------------------------------------------------------
await Load.Singles(http, digits, expected, o.Clients, o.Warmup);
await Load.Batches(http, batches, digits.Length, o.Batch, expected, o.Clients, 2);
Memory("after the reference answers and the warm-up");

// ---- The load ---------------------------------------------------------------------------------------------------
var results = new List<(int Round, string Phase, Load.Result Result)>();
for (var round = 1; round <= o.Rounds; round++)
{
    Console.WriteLine($"Round {round}:");
    var (before, clientBefore) = (ProcStatus.CpuSeconds(pid), ProcStatus.Self());
    var singles = await Load.Singles(http, digits, expected, o.Clients, o.Requests);
    (singles.ServerCpu, singles.ClientCpu) = (ProcStatus.CpuSeconds(pid) - before, ProcStatus.Self() - clientBefore);
    results.Add((round, $"(b) single images, {o.Clients} clients", singles));
    Console.WriteLine("  " + singles);
    Memory($"round {round}, after (b)");
    (before, clientBefore) = (ProcStatus.CpuSeconds(pid), ProcStatus.Self());
    var multi = await Load.Batches(http, batches, digits.Length, o.Batch, expected, o.Clients, o.BatchesPerClient);
    (multi.ServerCpu, multi.ClientCpu) = (ProcStatus.CpuSeconds(pid) - before, ProcStatus.Self() - clientBefore);
    results.Add((round, $"(c) {o.Batch}-image multipart, {o.Clients} clients", multi));
    Console.WriteLine("  " + multi);
    Memory($"round {round}, after (c)");
}
await Task.Delay(TimeSpan.FromSeconds(o.Pause));
Memory($"after a {o.Pause} s pause, idle");

// ---- The report -------------------------------------------------------------------------------------------------
Console.WriteLine();
Console.WriteLine("| round | phase | requests | images | s | requests/s | images/s | p50 ms | p90 ms | p99 ms | " +
    "max ms | errors | server CPU s | client CPU s | max abs Δp |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var (round, phase, r) in results)
    Console.WriteLine($"| {round} | {phase} | {r.Requests} | {r.Images} | {r.Seconds:F2} | " +
        $"{r.Requests / r.Seconds:F0} | " +
        $"{r.Images / r.Seconds:F0} | {r.Percentile(50):F2} | {r.Percentile(90):F2} | {r.Percentile(99):F2} | " +
        $"{r.Percentile(100):F2} | {r.Errors} | " +
            $"{(r.ServerCpu is { } c ? c.ToString("F2", CultureInfo.InvariantCulture) : "?")} | " +
        $"{r.ClientCpu:F2} | {r.MaxDifference:G3} |");
if (memory.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine("| server memory | VmRSS MiB | VmHWM MiB |");
    Console.WriteLine("|---|---|---|");
    foreach (var (when, rss, peak) in memory) Console.WriteLine($"| {when} | {rss / 1024.0:F1} | {peak / 1024.0:F1} |");
    // The same point of the first and the last round: a leak grows with every round, the GC's heap does not.
    foreach (var phase in new[] { "(b)", "(c)" })
    {
        var rounds = memory.Where(m => m.When.EndsWith($"after {phase}", StringComparison.Ordinal)).ToList();
        if (rounds.Count >= 2)
            Console.WriteLine($"VmRSS after {phase}, round 1 to round {rounds.Count}: " +
                $"{rounds[0].RssKb / 1024.0:F1} → " +
                $"{rounds[^1].RssKb / 1024.0:F1} MiB ({(rounds[^1].RssKb - rounds[0].RssKb) / 1024.0:+0.0;-0.0}); " +
                $"range {rounds.Min(m => m.RssKb) / 1024.0:F1}–{rounds.Max(m => m.RssKb) / 1024.0:F1} MiB");
    }
}
var errors = results.Sum(r => r.Result.Errors);
Console.WriteLine(errors == 0 ? "No error." : $"{errors} errors.");
return errors == 0 ? 0 : 1;

/// <summary>One image's answer: its label and its probabilities.</summary>
internal sealed record Answer(int Label, float[] Probabilities);

internal sealed record Options(string Mnist, string? Model, string? Url, int? Pid, string ServerDll, int[] Sizes,
    int Digits, int Clients, int Requests, int Warmup, int Batch, int BatchesPerClient, int Rounds, int Pause,
    string? Export)
{
    public const string Usage =
        "usage: LoadTest (--model FILE [--server LeNet.Train.dll] | --url http://HOST:PORT " +
            "[--pid PID]) [--mnist DIR]\n" +
        "         [--sizes 28[,56,...]] [--digits 1000] [--clients 16] [--requests 20000] [--warmup 2000]\n" +
        "         [--batch 64] [--batches 50] [--rounds 5] [--pause 10]\n" +
        "       LoadTest --export DIR [--mnist DIR] [--sizes ...] [--digits N]   (PNG files for wrk, no load)";

    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"{args[i]}: expected --name value");
            values[args[i][2..]] = args[i + 1];
        }
        string? Text(string name) => values.Remove(name, out var v) ? v : null;
        int Number(string name, int fallback, int min = 1) =>
            Text(name) is { } v ? int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n >= min ? n
                : throw new ArgumentException($"--{name} {v}: expected a whole number ≥ {min}") : fallback;
        var options = new Options(
            Text("mnist") ?? (Directory.Exists("../shared/mnist") ? "../shared/mnist" : "data/mnist"),
            Text("model"), Text("url"), values.ContainsKey("pid") ? Number("pid", 0) : null,
            Text("server") ?? "LeNet.Train/bin/Release/net10.0/LeNet.Train.dll",
            (Text("sizes") ?? "28").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
            Number("digits", 1000), Number("clients", 16), Number("requests", 20000), Number("warmup", 2000, 0),
            Number("batch", 64), Number("batches", 50), Number("rounds", 5), Number("pause", 10, 0), Text("export"));
        if (values.Count > 0) throw new ArgumentException($"unknown option --{values.Keys.First()}");
        if (options.Export is null && (options.Model is null) == (options.Url is null))
            throw new ArgumentException("give --model (the server is started here) or --url (a running server)");
        if (options.Sizes.Any(s => s < 28)) throw new ArgumentException("--sizes: each at least 28");
        if (options.Digits > 10000) throw new ArgumentException("--digits: at most the 10,000 test digits");
        return options;
    }
}

internal static class Digits
{
    /// <summary>
    /// An MNIST digit (white on black) as a PNG of <paramref name="size"/>² pixels: 28 as the file has it (8-bit
    /// gray); larger sizes scaled up with bilinear filtering into RGBA, as a browser's canvas encodes a drawing.
    /// </summary>
    public static byte[] Png(ReadOnlySpan<byte> pixels, int size)
    {
        using var gray = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
        pixels.CopyTo(gray.GetPixelSpan());
        if (size == 28) return Encode(gray);
        using var rgba = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(rgba))
        using (var image = SKImage.FromBitmap(gray))
            canvas.DrawImage(image, new SKRect(0, 0, size, size), new SKSamplingOptions(SKFilterMode.Linear));
        return Encode(rgba);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}

internal sealed class Server : IDisposable
{
    private readonly Process _process;
    public string Url { get; }
    public int Pid => _process.Id;

    private Server(Process process, string url) => (_process, Url) = (process, url);

    /// <summary>
    /// `dotnet LeNet.Train.dll serve --model FILE --port 0`; the address is read from its first line.
    /// </summary>
    public static Server Start(string dll, string model)
    {
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll}: build LeNet.Train first (-c Release)", dll);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "serve", "--model", model, "--port", "0" }) start.ArgumentList.Add(a);
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var line = process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        var match = Regex.Match(line ?? "", @" at (http://\S+?);");
        if (!match.Success)
        {
            process.Kill();
            throw new InvalidOperationException($"serve did not start: {line ?? "(no output)"}");
        }
        // The rest of its output is drained so that it never blocks on a full pipe.
        _ = Task.Run(() => process.StandardOutput.ReadToEndAsync());
        return new Server(process, match.Groups[1].Value);
    }

    public static async Task WaitHealthy(HttpClient http, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (true)
        {
            try
            {
                using var response = await http.GetAsync("/health");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < until) { }
            if (DateTime.UtcNow >= until) throw new TimeoutException("/health did not answer 200");
            await Task.Delay(100);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>SIGTERM (serve stops cleanly), then SIGKILL after 10 s.</summary>
    public void Dispose()
    {
        if (!_process.HasExited && kill(_process.Id, 15) == 0 && _process.WaitForExit(10_000)) return;
        if (!_process.HasExited) _process.Kill();
    }
}

internal static class ProcStatus
{
    /// <summary>VmRSS and VmHWM of a process, in kB, from /proc/PID/status.</summary>
    public static (long Rss, long Peak) Rss(int pid)
    {
        long rss = -1, peak = -1;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kb(line);
        }
        return (rss, peak);

        static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
            CultureInfo.InvariantCulture);
    }

    /// <summary>This process's CPU seconds (user + system).</summary>
    public static double Self() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    /// <summary>User + system CPU seconds of a process, from /proc/PID/stat (clock ticks of 1/100 s).</summary>
    public static double? CpuSeconds(int? pid)
    {
        if (pid is not { } p) return null;
        var stat = File.ReadAllText($"/proc/{p}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the command's name.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) +
            long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}

internal static class Client
{
    private static readonly MediaTypeHeaderValue Png = new("image/png");

    public static async Task<(int Status, byte[] Body)> PostImage(HttpClient http, byte[] png)
    {
        using var content = new ByteArrayContent(png);
        content.Headers.ContentType = Png;
        using var response = await http.PostAsync("/api/predict", content);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>A multipart form of <paramref name="count"/> images from <paramref name="first"/> on (wrapping),
    /// serialised once: its bytes and its Content-Type (with the boundary).</summary>
    public static (byte[] Body, string ContentType) Multipart(byte[][] digits, int first, int count)
    {
        using var form = new MultipartFormDataContent();
        for (var i = 0; i < count; i++)
        {
            var index = (first + i) % digits.Length;
            var file = new ByteArrayContent(digits[index]);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, "images", $"digit-{index:D5}.png");
        }
        return (form.ReadAsByteArrayAsync().GetAwaiter().GetResult(), form.Headers.ContentType!.ToString());
    }

    public static async Task<(int Status, byte[] Body)> PostForm(HttpClient http,
        (byte[] Body, string ContentType) form)
    {
        using var content = new ByteArrayContent(form.Body);
        content.Headers.TryAddWithoutValidation("Content-Type", form.ContentType);
        using var response = await http.PostAsync("/api/predict", content);
        return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>The answers of a 200 holding exactly <paramref name="count"/> predictions; null otherwise.</summary>
    public static Answer[]? Parse((int Status, byte[] Body) response, int count)
    {
        if (response.Status != 200) return null;
        try
        {
            using var json = JsonDocument.Parse(response.Body);
            if (json.RootElement.ValueKind != JsonValueKind.Array || json.RootElement.GetArrayLength() != count)
                return null;
            var answers = new Answer[count];
            var i = 0;
            foreach (var item in json.RootElement.EnumerateArray())
            {
                var p = item.GetProperty("probabilities");
                var probabilities = new float[p.GetArrayLength()];
                var k = 0;
                foreach (var v in p.EnumerateArray()) probabilities[k++] = v.GetSingle();
                answers[i++] = new Answer(item.GetProperty("label").GetInt32(), probabilities);
            }
            return answers;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException
            or FormatException)
        {
            return null;
        }
    }
}

internal static class Load
{
    public sealed class Result(int requests, int imagesPerRequest, double seconds, long[] latencies, int errors,
        double maxDifference)
    {
        public int Requests => requests;
        public int Images => requests * imagesPerRequest;
        public double Seconds => seconds;
        public int Errors => errors;
        public double MaxDifference => maxDifference;
        public double? ServerCpu { get; set; }
        public double ClientCpu { get; set; }
        private readonly long[] _sorted = latencies.Order().ToArray();

        /// <summary>The latency in milliseconds at <paramref name="p"/> % (nearest rank); 100: the largest.</summary>
        public double Percentile(double p)
        {
            if (_sorted.Length == 0) return double.NaN;
            var rank = Math.Clamp((int)Math.Ceiling(p / 100 * _sorted.Length) - 1, 0, _sorted.Length - 1);
            return _sorted[rank] * 1000.0 / Stopwatch.Frequency;
        }

        public override string ToString() =>
            $"{Requests} requests ({Images} images) in {Seconds:F2} s: {Requests / Seconds:F0} requests/s, " +
            $"{Images / Seconds:F0} images/s; p50 {Percentile(50):F2} ms, p90 {Percentile(90):F2}, " +
            $"p99 {Percentile(99):F2}, max {Percentile(100):F2}; {Errors} errors; CPU s: server {ServerCpu:F2}, " +
                $"client {ClientCpu:F2}";
    }

    /// <summary><paramref name="total"/> single-image requests from <paramref name="clients"/> concurrent clients,
    /// image i being digit i mod the count; each answer's label compared with the reference.</summary>
    public static Task<Result> Singles(HttpClient http, byte[][] digits, Answer[] expected, int clients, int total) =>
        Run(clients, total, 1, async i =>
        {
            var index = i % digits.Length;
            return Compare(Client.Parse(await Client.PostImage(http, digits[index]), 1), expected, index, 1);
        });

    /// <summary>
    /// <paramref name="perClient"/> multipart batches per client, cycling through the prepared forms.
    /// </summary>
    public static Task<Result> Batches(HttpClient http, (byte[] Body, string ContentType)[] forms, int digitCount,
        int batch, Answer[] expected, int clients, int perClient) =>
        Run(clients, clients * perClient, batch, async i =>
        {
            var form = i % forms.Length;
            return Compare(Client.Parse(await Client.PostForm(http, forms[form]), batch), expected,
                form * batch % digitCount, batch);
        });

    /// <summary>Wrong or missing answers, and the largest probability difference from the reference.</summary>
    private static (int Errors, double Difference) Compare(Answer[]? answers, Answer[] expected, int first, int count)
    {
        if (answers is null) return (count, 0);
        int errors = 0;
        double difference = 0;
        for (var i = 0; i < count; i++)
        {
            var reference = expected[(first + i) % expected.Length];
            if (answers[i].Label != reference.Label ||
                answers[i].Probabilities.Length != reference.Probabilities.Length)
            {
                errors++;
                continue;
            }
            for (var k = 0; k < reference.Probabilities.Length; k++)
                difference = Math.Max(difference, Math.Abs(answers[i].Probabilities[k] - reference.Probabilities[k]));
        }
        return (errors, difference);
    }

    private static async Task<Result> Run(int clients, int total, int imagesPerRequest,
        Func<int, Task<(int Errors, double Difference)>> request)
    {
        var latencies = new long[total];
        var next = -1;
        var errors = 0;
        var differences = new double[clients];
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < total;)
            {
                var begin = Stopwatch.GetTimestamp();
                (int Errors, double Difference) outcome;
                try { outcome = await request(i); }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    outcome = (imagesPerRequest, 0);
                }
                latencies[i] = Stopwatch.GetTimestamp() - begin;
                if (outcome.Errors > 0) Interlocked.Add(ref errors, outcome.Errors);
                differences[client] = Math.Max(differences[client], outcome.Difference);
            }
        })));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new Result(total, imagesPerRequest, seconds, latencies, errors, differences.Max());
    }
}
