using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;
using LeNet.Train.Serve;
using SkiaSharp;

namespace LeNet.Tests.Train.Serve;

/// <summary>
/// serve's HTTP API on a real Kestrel server on a free loopback port, with the shared trained model: the answers equal
/// predict's, every client mistake is a 4xx with a JSON error, and concurrent requests get the single-threaded answers.
/// </summary>
public sealed class ServeApiTests : IAsyncLifetime
{
    private WebServer _server = null!;
    private HttpClient _http = null!;
    private SavedModel _saved = null!;

    public async ValueTask InitializeAsync()
    {
        _saved = SavedModel.Load(TrainedModel.ModelFile);
        var predictor = new Predictor(_saved.Model, _saved.ClassNames, ServeCommand.DefaultMaxMegapixels);
        var info = ModelInfo.Of(_saved.Variant, _saved.Model, _saved.ClassNames, 90, 500, training: false);
        _server = await WebServer.StartAsync("127.0.0.1", 0, () => predictor, () => info);
        _http = new HttpClient { BaseAddress = _server.Address };
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Test digits 1000.. (never trained on) as PNG files: white ink on black, 28×28.</summary>
    internal static List<(byte[] Png, byte[] Digit, int Label)> Digits(int count)
    {
        var images = MnistFiles.Read(MnistTestData.Directory, MnistPart.TestImages, verifyChecksum: false).Data;
        var labels = MnistFiles.Read(MnistTestData.Directory, MnistPart.TestLabels, verifyChecksum: false).Data;
        return Enumerable.Range(1000, count).Select(i =>
        {
            var digit = images.AsSpan(i * 784, 784).ToArray();
            return (Png(digit, 28, 28), digit, (int)labels[i]);
        }).ToList();
    }

    internal static byte[] Png(byte[] gray, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        gray.CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> Post(byte[] body, string contentType,
        string query = "")
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        // A large body waits for the server's go-ahead, as curl does: a refused one is then answered, not cut off.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/predict" + query) { Content = content };
        request.Headers.ExpectContinue = body.Length > 1 << 20;
        using var response = await _http.SendAsync(request, Token);
        var text = await response.Content.ReadAsStringAsync(Token);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task Health_and_model_describe_the_served_model()
    {
        var health = JsonDocument.Parse(await _http.GetStringAsync("/health", Token)).RootElement;
        Assert.Equal("ok", health.GetProperty("status").GetString());
        var model = JsonDocument.Parse(await _http.GetStringAsync("/api/model", Token)).RootElement;
        Assert.Equal("LeNet-5", model.GetProperty("model").GetString());
        Assert.Equal(61_750, model.GetProperty("parameters").GetInt64());
        Assert.Equal(10, model.GetProperty("classes").GetArrayLength());
        Assert.Equal(90, model.GetProperty("testAccuracy").GetDouble());
        Assert.False(model.GetProperty("training").GetBoolean());
        Assert.Contains(model.GetProperty("layers").EnumerateArray(), l => l.GetProperty("name").GetString() == "fc2");
    }

    [Fact]
    public async Task The_page_and_its_scripts_are_served_from_the_program()
    {
        using var page = await _http.GetAsync("/", Token);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<canvas id=\"pad\"", await page.Content.ReadAsStringAsync(Token));
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        foreach (var asset in new[] { "app.js", "style.css", "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/LICENSE" })
        {
            using var response = await _http.GetAsync("/assets/" + asset, Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True((await response.Content.ReadAsByteArrayAsync(Token)).Length > 100, asset);
        }
        foreach (var missing in new[] { "/assets/nothing.js", "/assets/%2e%2e/%2e%2e/LeNet.Train.dll",
            "/assets/..%2F..%2Fetc%2Fpasswd" })
        {
            using var response = await _http.GetAsync(missing, Token);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Fact]
    public async Task An_image_body_gets_predict_json_answer_and_the_image_the_model_saw()
    {
        var (png, digit, label) = Digits(1)[0];
        var (status, json) = await Post(png, "image/png", "?seen=1&name=seven.png");
        Assert.Equal(HttpStatusCode.OK, status);
        var answer = Assert.Single(json.EnumerateArray().ToList());
        Assert.Equal("seven.png", answer.GetProperty("image").GetString());
        Assert.Equal(784, answer.GetProperty("seen").GetBytesFromBase64().Length);

        // The same answer as the predict command for the same file, field by field.
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "seven.png");
        File.WriteAllBytes(path, png);
        var expected = PredictCommand.Predict(_saved, path);
        Assert.Equal(expected.Label, answer.GetProperty("label").GetInt32());
        Assert.Equal(expected.Name, answer.GetProperty("name").GetString());
        var probabilities = answer.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray();
        Assert.Equal(expected.Probabilities!, probabilities);
        Assert.Equal(label, expected.Label);
        // Without ?seen, the fields of predict --json and no other.
        var predictJson = new StringWriter();
        Assert.Equal(0, PredictCommand.Run(TrainedModel.ModelFile, [path], json: true, predictJson, TextWriter.Null));
        Assert.Equal(JsonDocument.Parse(predictJson.ToString()).RootElement[0].EnumerateObject().Select(p => p.Name),
            (await Post(png, "image/png")).Json[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(digit.Length, answer.GetProperty("seen").GetBytesFromBase64().Length);
    }

    [Fact]
    public async Task A_multipart_form_of_many_images_gets_one_answer_each_in_order()
    {
        var digits = Digits(12);
        using var form = new MultipartFormDataContent();
        for (var i = 0; i < digits.Count; i++)
        {
            var file = new ByteArrayContent(digits[i].Png);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, "images", $"digit{i}.png");
        }
        using var response = await _http.PostAsync("/api/predict", form, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answers = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement;
        Assert.Equal(digits.Count, answers.GetArrayLength());
        for (var i = 0; i < digits.Count; i++)
        {
            Assert.Equal($"digit{i}.png", answers[i].GetProperty("image").GetString());
            var single = (await Post(digits[i].Png, "image/png")).Json[0];
            Assert.Equal(single.GetProperty("label").GetInt32(), answers[i].GetProperty("label").GetInt32());
            // One batch of 12 or one image at a time: the same probabilities up to float rounding of the batch split.
            var batched = answers[i].GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray();
            var alone = single.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray();
            for (var c = 0; c < 10; c++) Assert.Equal(alone[c], batched[c], 1e-5f);
        }
    }

    [Fact]
    public async Task Garbage_truncated_and_bomb_images_are_400_with_a_json_error()
    {
        var png = Digits(1)[0].Png;
        // A PNG whose header declares 30000×30000 pixels (900 megapixels) on a few bytes: refused before decoding.
        var bomb = LeNet.Tests.Fuzzing.ImageFuzzTests.PngBomb(30_000);
        var cases = new (string Name, byte[] Body, string Expected)[]
        {
            ("garbage", Encoding.ASCII.GetBytes("this is not an image"), "not a readable"),
            ("empty", [], "empty"),
            ("truncated", png[..20], "not a readable"),
            ("bomb", bomb, "megapixels"),
            ("blank", ServeApiTests.Png(new byte[784], 28, 28), "no digit"),
            ("escape", Encoding.ASCII.GetBytes("\u001b[31mred"), "not a readable"),
        };
        foreach (var (name, body, expected) in cases)
        {
            var (status, json) = await Post(body, "image/png", $"?name={Uri.EscapeDataString(name + "\u001b[2J")}");
            Assert.True(status == HttpStatusCode.BadRequest, $"{name}: {status}");
            var error = json.GetProperty("error").GetString()!;
            Assert.Contains(expected, error, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain('\u001b', error);
        }
    }

    [Fact]
    public async Task Wrong_content_types_oversized_bodies_and_empty_forms_are_refused_in_json()
    {
        var (status, json) = await Post("{}"u8.ToArray(), "application/json");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("Content-Type", json.GetProperty("error").GetString());

        (status, json) = await Post(new byte[WebServer.MaxRequestBytes + 1], "image/png");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("10 MB", json.GetProperty("error").GetString());

        using var empty = new MultipartFormDataContent { { new StringContent("x"), "field" } };
        using var response = await _http.PostAsync("/api/predict", empty, Token);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no file", await response.Content.ReadAsStringAsync(Token));

        using var broken = new ByteArrayContent(
            "--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.png\"\r\n\r\nabc"u8.ToArray());
        broken.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        using var truncated = await _http.PostAsync("/api/predict", broken, Token);
        Assert.Equal(HttpStatusCode.BadRequest, truncated.StatusCode);
        Assert.Contains("error", await truncated.Content.ReadAsStringAsync(Token));
    }

    [Fact]
    public async Task Concurrent_requests_get_the_answers_of_one_request_at_a_time()
    {
        var digits = Digits(40);
        var expected = new List<float[]>();
        foreach (var d in digits)
            expected.Add((await Post(d.Png, "image/png")).Json[0].GetProperty("probabilities").EnumerateArray()
                .Select(p => p.GetSingle()).ToArray());
        var failures = 0;
        await Parallel.ForAsync(0, 16 * 25,
            new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Token },
            async (i, token) =>
            {
                var k = i % digits.Count;
                var (status, json) = await Post(digits[k].Png, "image/png");
                var got = json[0].GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray();
                if (status != HttpStatusCode.OK || !got.SequenceEqual(expected[k])) Interlocked.Increment(ref failures);
            });
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task A_port_in_use_and_a_host_name_are_refused_in_one_sentence()
    {
        var taken = _server.Address.Port;
        var error = await Assert.ThrowsAsync<OptionException>(() =>
            WebServer.StartAsync("127.0.0.1", taken, () => null, () => null));
        Assert.Contains($"127.0.0.1:{taken}", error.Message);
        Assert.Contains("--port", error.Message);
        Assert.Contains("not an IP address",
            Assert.Throws<OptionException>(() => WebServer.ParseHost("example.org")).Message);
        var warning = new StringWriter();
        ServeCommand.WarnIfOpen("127.0.0.1", warning);
        ServeCommand.WarnIfOpen("localhost", warning);
        Assert.Equal("", warning.ToString());
        ServeCommand.WarnIfOpen("0.0.0.0", warning);
        Assert.Single(warning.ToString().TrimEnd().Split('\n'));
        Assert.Contains("other machines", warning.ToString());
    }

    [Fact]
    public void The_accuracy_beside_a_model_is_read_only_from_a_regular_file_of_sane_size()
    {
        Assert.SkipUnless(LeNet.Tests.Files.HostileFiles.Supported, "no FIFOs on this system");
        using var folder = new TemporaryFolder();
        var model = Path.Combine(folder.Path, "model.safetensors");
        File.Copy(TrainedModel.ModelFile, model);
        File.WriteAllText(Path.Combine(folder.Path, "metrics.json"),
            """{"finalTestAccuracy": 98.5, "testImages": 10000}""");
        Assert.Equal((98.5, 10000), ModelInfo.RecordedAccuracy(model));
        // A FIFO in its place (a writer would never come) is not waited on: the page shows no accuracy.
        File.Delete(Path.Combine(folder.Path, "metrics.json"));
        LeNet.Tests.Files.HostileFiles.Fifo(Path.Combine(folder.Path, "metrics.json"));
        Assert.Null(LeNet.Tests.Files.HostileFiles.WithinTenSeconds(() => ModelInfo.RecordedAccuracy(model)));
    }

    [Fact]
    public void Serve_refuses_a_missing_model_in_one_sentence()
    {
        var error = new StringWriter();
        Assert.Equal(1, ServeCommand.Run("/nonexistent/model.safetensors", "127.0.0.1", 0, 16, TextWriter.Null, error,
            CancellationToken.None));
        Assert.Contains("no model file", error.ToString());
    }
}
