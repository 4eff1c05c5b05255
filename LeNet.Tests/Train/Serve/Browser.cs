using Microsoft.Playwright;

namespace LeNet.Tests.Train.Serve;

/// <summary>
/// Debian's chromium driven by Playwright (its own browser download cannot work offline): found at LENET_CHROMIUM,
/// /usr/bin/chromium or /usr/bin/chromium-browser. Where none is installed the browser tests report themselves
/// skipped, except under <c>.ci/run</c> (LENET_REQUIRE_BROWSER=1), which installs chromium and must run them.
/// </summary>
internal static class Browser
{
    public static string? Executable { get; } = new[]
        {
            Environment.GetEnvironmentVariable("LENET_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
        }
        .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    /// <summary>Where the tests' screenshots are kept (test output beside the test binaries).</summary>
    public static string Screenshots { get; } =
        Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    /// <summary>A headless chromium; skips the test when there is none and the run does not require one.</summary>
    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (Executable is null)
        {
            const string why = "no chromium (apt-get install -y chromium, or set LENET_CHROMIUM)";
            if (Environment.GetEnvironmentVariable("LENET_REQUIRE_BROWSER") == "1")
                Assert.Fail($"The browser tests must run here, but there is {why}.");
            Assert.Skip($"Browser test: {why}.");
        }
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Executable, Headless = true,
            // Root (CI containers) cannot use chromium's sandbox; the page is our own, on loopback.
            Args = Environment.IsPrivilegedProcess ? ["--no-sandbox"] : [],
        });
        return (playwright, browser);
    }

    /// <summary>Strokes of each digit, as a person draws it, in pad coordinates from 0 to 1.</summary>
    public static readonly IReadOnlyDictionary<int, double[][][]> Strokes = new Dictionary<int, double[][][]>
    {
        [0] = [Ellipse(0.5, 0.5, 0.2, 0.32)],
        [1] = [[[0.42, 0.25], [0.52, 0.15], [0.52, 0.85]]],
        [2] = [[[0.3, 0.3], [0.38, 0.18], [0.52, 0.15], [0.66, 0.22], [0.68, 0.36], [0.58, 0.5], [0.3, 0.82],
            [0.74, 0.82]]],
        [3] = [[[0.3, 0.2], [0.5, 0.14], [0.67, 0.24], [0.63, 0.4], [0.46, 0.48], [0.66, 0.56], [0.69, 0.72],
            [0.55, 0.84], [0.3, 0.8]]],
        [4] = [[[0.55, 0.15], [0.28, 0.6], [0.76, 0.6]], [[0.62, 0.35], [0.62, 0.86]]],
        [5] = [[[0.7, 0.16], [0.36, 0.16], [0.33, 0.46], [0.5, 0.42], [0.66, 0.52], [0.68, 0.7], [0.53, 0.84],
            [0.3, 0.78]]],
        [6] = [[[0.64, 0.14], [0.45, 0.3], [0.33, 0.55], [0.35, 0.78], [0.5, 0.86], [0.65, 0.76], [0.65, 0.6],
            [0.5, 0.52], [0.35, 0.62]]],
        [7] = [[[0.27, 0.18], [0.74, 0.18], [0.46, 0.86]]],
        [8] = [[[0.62, 0.2], [0.5, 0.14], [0.37, 0.2], [0.38, 0.35], [0.62, 0.6], [0.64, 0.78], [0.5, 0.86],
            [0.36, 0.78], [0.38, 0.6], [0.62, 0.35], [0.63, 0.2]]],
        [9] = [Ellipse(0.5, 0.33, 0.16, 0.17), [[0.66, 0.33], [0.63, 0.86]]],
    };

    private static double[][] Ellipse(double cx, double cy, double rx, double ry) =>
        Enumerable.Range(0, 25).Select(i => i * 2 * Math.PI / 24)
            .Select(a => new[] { cx + rx * Math.Sin(a), cy - ry * Math.Cos(a) }).ToArray();

    /// <summary>Draws <paramref name="digit"/> on the page's pad with mouse events, as a person would.</summary>
    public static async Task DrawAsync(IPage page, int digit)
    {
        var box = (await page.Locator("#pad").BoundingBoxAsync())!;
        foreach (var stroke in Strokes[digit])
        {
            await page.Mouse.MoveAsync(box.X + (float)stroke[0][0] * box.Width,
                box.Y + (float)stroke[0][1] * box.Height);
            await page.Mouse.DownAsync();
            foreach (var p in stroke.Skip(1))
                await page.Mouse.MoveAsync(box.X + (float)p[0] * box.Width, box.Y + (float)p[1] * box.Height,
                    new MouseMoveOptions { Steps = 6 });
            await page.Mouse.UpAsync();
        }
    }
}
