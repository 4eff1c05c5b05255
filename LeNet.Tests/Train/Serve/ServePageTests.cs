using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LeNet.Train;
using LeNet.Train.Progress;
using LeNet.Train.Serve;
using Microsoft.Playwright;

namespace LeNet.Tests.Train.Serve;

/// <summary>
/// The page in a real browser: digits drawn with the mouse are predicted, an image dropped or chosen is predicted, and
/// a real training run's page shows its curves growing and its accuracy. Screenshots are kept in the test output.
/// </summary>
public sealed class ServePageTests
{
    private static readonly PageGotoOptions Loaded = new() { WaitUntil = WaitUntilState.Load };

    private static async Task<IPage> OpenAsync(IBrowser browser, Uri address, bool slowCanvas = false)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions
        {
            ViewportSize = new ViewportSize { Width = 1100, Height = 1000 },
        });
        // A loaded machine, made certain: the pad's PNG arrives 150 ms after it is asked for, so an answer to an
        // older drawing shows up as one instead of depending on how busy the machine is.
        if (slowCanvas)
            await page.AddInitScriptAsync(@"{
                const toBlob = HTMLCanvasElement.prototype.toBlob;
                HTMLCanvasElement.prototype.toBlob = function (callback, ...rest) {
                    toBlob.call(this, blob => setTimeout(() => callback(blob), 150), ...rest);
                };
            }");
        var errors = new List<string>();
        page.PageError += (_, message) => errors.Add(message);
        await page.GotoAsync(address.ToString(), Loaded);
        await page.WaitForSelectorAsync("body[data-ready=true]");
        Assert.Empty(errors);
        return page;
    }

    /// <summary>Waits until the page shows the answer to the latest drawing (no request in flight, none
    /// pending).</summary>
    private static async Task<string> GuessAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => !state.busy && !state.again && document.querySelector('.bar.top')");
        return (await page.Locator("#guess").TextContentAsync())!;
    }

    [Fact]
    public async Task Digits_drawn_with_the_mouse_are_predicted_with_their_bars_and_the_image_the_model_saw()
    {
        var (playwright, browser) = await Browser.LaunchAsync();
        using var driver = playwright;
        await using var chromium = browser;
        var saved = SavedModel.Load(FastTrainedModel.ModelFile); // the fast recipe on all of MNIST: about 99 %
        await using var server = await WebServer.StartAsync("127.0.0.1", 0,
            () => new Predictor(saved.Model, saved.ClassNames, 16),
            () => ModelInfo.Of(saved.Variant, saved.Model, saved.ClassNames, 90.2, 500, training: false));
        var page = await OpenAsync(browser, server.Address, slowCanvas: true);
        Assert.Contains("61,750 parameters", await page.Locator("#model-facts").TextContentAsync());
        Assert.Contains("90.20 % on 500 test images", await page.Locator("#model-facts").TextContentAsync());
        Assert.Equal(7, await page.Locator("#layers tbody tr").CountAsync());

        var right = new List<int>();
        foreach (var digit in Browser.Strokes.Keys)
        {
            await page.ClickAsync("#clear");
            await Browser.DrawAsync(page, digit);
            var guess = await GuessAsync(page);
            // The guess shown is the answer to the pad as it is now, not to a stroke before the last.
            Assert.Equal(await page.EvaluateAsync<string>(@"async () => {
                const blob = await new Promise(done => pad.toBlob(done, 'image/png'));
                const response = await fetch('/api/predict', { method: 'POST',
                    headers: { 'Content-Type': 'image/png' }, body: blob });
                return (await response.json())[0].name;
            }"), guess);
            if (guess == digit.ToString()) right.Add(digit);
            // The bars are the probabilities: ten of them, summing to 100 %, the largest the guess's.
            var percents = (await page.Locator(".bar .pct").AllTextContentsAsync())
                .Select(t => double.Parse(t.Replace(" %", ""), CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(10, percents.Count);
            Assert.InRange(percents.Sum(), 99.5, 100.5);
            Assert.Equal(guess, (await page.Locator(".bar.top .label").TextContentAsync())!);
            // The 28×28 the model saw has ink.
            Assert.True(await page.EvaluateAsync<bool>(
                "() => document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data.some(v " +
                    "=> v > 0 && v < 255)"));
            if (digit == 3)
                await page.ScreenshotAsync(new PageScreenshotOptions
                {
                    Path = Path.Combine(Browser.Screenshots, "serve-drawn-3.png"), FullPage = true,
                });
        }
        Assert.True(right.Count == 10, $"Right: {string.Join(", ", right)} of 0-9.");

        await page.ClickAsync("#clear");
        Assert.Equal("?", await page.Locator("#guess").TextContentAsync());
        Assert.Equal(0, await page.Locator(".bar.top").CountAsync());

        // Cleared while its answer is on the way: the answer, when it comes, is not shown on the empty pad.
        await Browser.DrawAsync(page, 7);
        await page.ClickAsync("#clear");
        await page.WaitForFunctionAsync("() => !state.busy && !state.again");
        Assert.Equal("?", await page.Locator("#guess").TextContentAsync());
        Assert.Equal(0, await page.Locator(".bar.top").CountAsync());
    }

    [Fact]
    public async Task An_image_dropped_on_the_pad_or_chosen_is_predicted()
    {
        var (playwright, browser) = await Browser.LaunchAsync();
        using var driver = playwright;
        await using var chromium = browser;
        var saved = SavedModel.Load(TrainedModel.ModelFile);
        await using var server = await WebServer.StartAsync("127.0.0.1", 0,
            () => new Predictor(saved.Model, saved.ClassNames, 16),
            () => ModelInfo.Of(saved.Variant, saved.Model, saved.ClassNames, null, null, training: false));
        var page = await OpenAsync(browser, server.Address);
        var digits = ServeApiTests.Digits(2);

        // Dark ink on light paper, 4× larger: as a photo of a digit would be.
        var (_, digit, label) = digits[0];
        var large = new byte[112 * 112];
        for (var y = 0; y < 112; y++)
            for (var x = 0; x < 112; x++) large[y * 112 + x] = (byte)(255 - digit[y / 4 * 28 + x / 4]);
        await page.EvaluateAsync(@"async base64 => {
            const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'photo.png', { type: 'image/png' }));
            document.getElementById('pad-frame').dispatchEvent(
                new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }", Convert.ToBase64String(ServeApiTests.Png(large, 112, 112)));
        Assert.Equal(label.ToString(), await GuessAsync(page));

        await page.ClickAsync("#clear");
        await page.SetInputFilesAsync("#file", new FilePayload
        {
            Name = "chosen.png", MimeType = "image/png", Buffer = digits[1].Png,
        });
        Assert.Equal(digits[1].Label.ToString(), await GuessAsync(page));

        // A file that is not an image: the page says why, and shows no guess.
        await page.ClickAsync("#clear");
        await page.SetInputFilesAsync("#file", new FilePayload
        {
            Name = "notes.png", MimeType = "image/png", Buffer = "not an image"u8.ToArray(),
        });
        await page.WaitForFunctionAsync(
            "() => !state.busy && document.getElementById('message').textContent.includes('not a readable')");
        Assert.Equal("?", await page.Locator("#guess").TextContentAsync());
    }

    [Fact]
    public async Task The_page_of_a_training_run_shows_its_curves_growing_its_accuracy_and_predicts_while_it_learns()
    {
        var (playwright, browser) = await Browser.LaunchAsync();
        using var driver = playwright;
        await using var chromium = browser;
        using var folder = new TemporaryFolder();
        using var stop = new CancellationTokenSource();
        var log = new StringWriter();
        var synchronizedLog = TextWriter.Synchronized(log);
        var options = new TrainOptions
        {
            DataDirectory = LeNet.Tests.Mnist.MnistTestData.Directory, Limit = 6000, TestLimit = 1000, Epochs = 3,
            OutputDirectory = folder.Path, Pictures = false, LogEvery = 1000, ServePort = 0,
        };
        var error = new StringWriter();
        // The run waits at step 40 of its first epoch until the page has been looked at, however fast the machine.
        using var held = new HeldProgress(new LogLinesProgress(synchronizedLog, options.LogEvery), heldEpoch: 1,
            heldStep: 40);
        var training = Task.Run(() => TrainCommand.Run(options, synchronizedLog, error, stop.Token, held));
        try
        {
            Uri? address = null;
            for (var waited = 0; address is null && !training.IsCompleted && waited < 120_000; waited += 50)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
                string text;
                lock (synchronizedLog) text = log.ToString(); // the synchronised writer locks itself
                if (Regex.Match(text, @"Watch it learn at (\S+)") is { Success: true } m)
                    address = new Uri(m.Groups[1].Value);
            }
            Assert.True(address is not null, "No address: " + log + error);
            var page = await OpenAsync(browser, address);
            Assert.False(await page.Locator("#training").IsHiddenAsync());
            Assert.True(held.Reached.Wait(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken),
                "The run never reached step 40: " + log + error);
            await page.WaitForFunctionAsync("() => run.steps[0].length > 0");
            var early = await page.EvaluateAsync<int>("() => run.steps[0].length");
            Assert.False(await page.EvaluateAsync<bool>("() => document.body.dataset.trained === 'true'"),
                "The page says trained while the run is held at step 40.");

            // Drawn during training: predicted with the weights of the moment.
            await Browser.DrawAsync(page, 1);
            await GuessAsync(page);
            held.Release();
            await page.WaitForFunctionAsync("() => run.epochs[0].length >= 1");
            await page.ScreenshotAsync(new PageScreenshotOptions
            {
                Path = Path.Combine(Browser.Screenshots, "serve-training.png"), FullPage = true,
            });

            await page.WaitForFunctionAsync("() => document.body.dataset.trained === 'true'",
                options: new PageWaitForFunctionOptions { Timeout = 300_000 });
            var points = await page.EvaluateAsync<int>("() => run.steps[0].length");
            Assert.True(points > early, $"{early} then {points} points");
            Assert.Equal(3 * 94, points); // 6,000 images in batches of 64: 94 steps an epoch, each a point
            Assert.Equal(3, await page.EvaluateAsync<int>("() => run.epochs[0].length"));
            var facts = (await page.Locator("#model-facts").TextContentAsync())!;
            Assert.Matches(@"^\d+\.\d\d % test accuracy · trained$", facts);
            Assert.Contains("Done in", await page.Locator("#progress-text").TextContentAsync());
            await page.ScreenshotAsync(new PageScreenshotOptions
            {
                Path = Path.Combine(Browser.Screenshots, "serve-trained.png"), FullPage = true,
            });

            // The stream read by a client that comes after the end: the whole run, each message a JSON array of events,
            // and then the end of the stream.
            using var client = new HttpClient();
            var stream = await client.GetStringAsync(new Uri(address, "/api/events"),
                TestContext.Current.CancellationToken);
            var messages = stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.All(messages, m => Assert.StartsWith("data: [", m));
            var events = messages.SelectMany(m => JsonDocument.Parse(m["data: ".Length..]).RootElement.EnumerateArray())
                .ToList();
            var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
            Assert.Equal(["start", .. Enumerable.Repeat("step", 3 * 94), "end"], types.Where(t => t != "epoch"));
            Assert.Equal(3, types.Count(t => t == "epoch"));
            var steps = events.Where(e => e.GetProperty("type").GetString() == "step")
                .Select(e => e.GetProperty("step").GetInt32());
            Assert.Equal(Enumerable.Range(1, 3 * 94), steps);
        }
        finally
        {
            held.Release();
            stop.Cancel();
            Assert.Equal(0, await training);
        }
        Assert.Contains("stays open with the trained model", log.ToString());
        Assert.True(File.Exists(Path.Combine(folder.Path, "model.safetensors")));
    }

    /// <summary>The log lines of a run that stops at one step until <see cref="Release"/> is called.</summary>
    private sealed class HeldProgress(TrainingProgress inner, int heldEpoch, int heldStep)
        : TrainingProgress, IDisposable
    {
        private readonly ManualResetEventSlim _released = new();
        private int _epoch;

        /// <summary>Set once the run waits at the held step (its points up to that step have been published).</summary>
        public ManualResetEventSlim Reached { get; } = new();

        public void Release() => _released.Set();

        public override void Run(Action body) => inner.Run(body);

        public override void EpochStarted(int epoch, int epochs, int steps, int images)
        {
            _epoch = epoch;
            inner.EpochStarted(epoch, epochs, steps, images);
        }

        public override void StepEnded(int step, float loss, int images)
        {
            inner.StepEnded(step, loss, images);
            if (_epoch != heldEpoch || step != heldStep) return;
            Reached.Set();
            // Bounded, so that a test that fails before releasing still ends.
            _released.Wait(TimeSpan.FromMinutes(5));
        }

        public override void EpochEnded(EpochMetrics metrics, string summary) => inner.EpochEnded(metrics, summary);

        public void Dispose()
        {
            _released.Dispose();
            Reached.Dispose();
        }
    }
}
