using System.Text;
using System.Text.Json;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;
using LeNet.Train.Images;
using SkiaSharp;

namespace LeNet.Tests.Train;

/// <summary>predict on real MNIST test digits redrawn as a user's pictures: larger, off-centre, dark ink on light
/// paper.</summary>
public class PredictTests
{
    private static readonly Lazy<(byte[] Pixels, byte[] Labels)> TestDigits = new(() =>
    {
        var images = MnistFiles.Read(MnistTestData.Directory, MnistPart.TestImages, verifyChecksum: false);
        var labels = MnistFiles.Read(MnistTestData.Directory, MnistPart.TestLabels, verifyChecksum: false);
        return (images.Data, labels.Data);
    });

    /// <summary>
    /// One test digit of each class, taken from test images the shared model has not seen in training
    /// (never trained on) and that it classifies with confidence in their own MNIST form.
    /// </summary>
    internal static List<(int Index, int Label, byte[] Digit)> Digits()
    {
        var saved = SavedModel.Load(TrainedModel.ModelFile);
        var (pixels, labels) = TestDigits.Value;
        var chosen = new List<(int, int, byte[])>();
        for (var label = 0; label < 10; label++)
            for (var i = 1000; i < labels.Length; i++)
            {
                if (labels[i] != label) continue;
                var digit = pixels.AsSpan(i * 784, 784).ToArray();
                var probabilities = PredictCommand.Probabilities(saved.Model, digit);
                if (probabilities[label] < 0.9f) continue;
                chosen.Add((i, label, digit));
                break;
            }
        Assert.Equal(10, chosen.Count);
        return chosen;
    }

    [Fact]
    public void Digits_drawn_large_off_centre_on_light_paper_in_every_format_are_predicted_correctly()
    {
        using var folder = new TemporaryFolder();
        var digits = Digits();
        var paths = new List<(string Path, int Label, byte[] Original)>();
        foreach (var (index, label, digit) in digits)
        {
            // A different size and place per digit: 2–3.5× larger, on a canvas wider than tall, towards a corner.
            var scale = 2 + index % 4 * 0.5;
            var (width, height) = (130 + index % 30, 100 + index % 20);
            var (left, top) = (8 + index % 10, 4 + index % 7);
            var (red, green, blue) = Draw(digit, scale, width, height, left, top);
            foreach (var format in new[] { "png", "jpg", "bmp", "pgm" })
            {
                var path = Path.Combine(folder.Path, $"digit{label}-{index}.{format}");
                File.WriteAllBytes(path, format switch
                {
                    "png" => Encode(red, green, blue, width, height, SKEncodedImageFormat.Png),
                    "jpg" => Encode(red, green, blue, width, height, SKEncodedImageFormat.Jpeg),
                    "bmp" => Bmp(red, green, blue, width, height),
                    _ => Pgm(green, width, height),
                });
                paths.Add((path, label, digit));
            }
        }

        var saved = SavedModel.Load(TrainedModel.ModelFile);
        foreach (var (path, label, original) in paths)
        {
            // The conversion recovers the MNIST digit closely: mean absolute difference under 10 % of the range.
            var converted = MnistStyle.Convert(DigitImage.Load(path), path);
            var difference = converted.Zip(original, (a, b) => Math.Abs(a - b)).Average();
            Assert.True(difference < 25.5,
                $"{Path.GetFileName(path)}: converted digit differs from the original by {difference:F1} on average");
            var prediction = PredictCommand.Predict(saved, path);
            Assert.Null(prediction.Error);
            Assert.True(label == prediction.Label, $"{Path.GetFileName(path)} predicted as {prediction.Label}");
            Assert.Equal(1f, prediction.Probabilities!.Sum(), 4);
        }

        // The command's text form: one line per image with the class and ten probabilities.
        var log = new StringWriter();
        Assert.Equal(0, PredictCommand.Run(TrainedModel.ModelFile, paths.Take(4).Select(p => p.Path).ToArray(),
            json: false, log, TextWriter.Null));
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.All(lines, l =>
            Assert.Matches(@"^.+: \d \(\d+\.\d %\)   0 \d\.\d{4}  1 \d\.\d{4}  .*9 \d\.\d{4}$", l.TrimEnd()));
    }

    [Fact]
    public void Unreadable_empty_and_blank_images_are_reported_by_name_and_the_others_still_predicted()
    {
        using var folder = new TemporaryFolder();
        var (_, label, digit) = Digits()[3];
        var good = Path.Combine(folder.Path, "good.pgm");
        var (_, green, _) = Draw(digit, 1.5, 60, 50, 3, 3);
        File.WriteAllBytes(good, Pgm(green, 60, 50));
        var broken = Path.Combine(folder.Path, "broken.png");
        File.WriteAllBytes(broken, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5]);
        var empty = Path.Combine(folder.Path, "empty.jpg");
        File.WriteAllBytes(empty, []);
        var blank = Path.Combine(folder.Path, "blank.pgm");
        File.WriteAllBytes(blank, Pgm(Enumerable.Repeat((byte)230, 40 * 30).ToArray(), 40, 30));
        var missing = Path.Combine(folder.Path, "missing.bmp");
        var truncatedPgm = Path.Combine(folder.Path, "short.pgm");
        File.WriteAllBytes(truncatedPgm, Encoding.ASCII.GetBytes("P5 10 10 255\n").Concat(new byte[20]).ToArray());

        var log = new StringWriter();
        var error = new StringWriter();
        var code = PredictCommand.Run(TrainedModel.ModelFile, [broken, good, empty, blank, missing, truncatedPgm],
            json: true, log, error);

        Assert.Equal(1, code);
        using var report = JsonDocument.Parse(log.ToString());
        var results = report.RootElement.EnumerateArray().ToArray();
        Assert.Equal(6, results.Length);
        Assert.Equal(label, results[1].GetProperty("label").GetInt32());
        Assert.Equal(10, results[1].GetProperty("probabilities").GetArrayLength());
        string[] expected =
        [
            $"{broken}: not a readable PNG, JPEG, BMP or PGM image.",
            $"{empty}: the file is empty.",
            $"{blank}: no digit found: the image is blank (one tone).",
            $"{missing}: cannot be read (",
            $"{truncatedPgm}: not a readable PGM image (it holds 20 bytes of samples, not the 100 " +
                "its header promises).",
        ];
        var reported = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, reported.Length);
        for (var i = 0; i < expected.Length; i++) Assert.StartsWith(expected[i], reported[i]);
        foreach (var i in new[] { 0, 2, 3, 4, 5 })
        {
            Assert.False(results[i].TryGetProperty("label", out _));
            Assert.StartsWith(results[i].GetProperty("image").GetString()!,
                results[i].GetProperty("error").GetString());
        }
    }

    [Fact]
    public void Save_preprocessed_writes_the_digit_the_model_saw_for_each_image_as_a_png_named_after_it()
    {
        using var folder = new TemporaryFolder();
        var digits = Digits();
        var (a, b) = (Directory.CreateDirectory(Path.Combine(folder.Path, "a")).FullName,
            Directory.CreateDirectory(Path.Combine(folder.Path, "b")).FullName);
        // Two pictures whose names differ only in case, one whose name has a space and a '#', and a blank one.
        string[] images = [Path.Combine(a, "seven.pgm"), Path.Combine(b, "Seven.pgm"),
            Path.Combine(a, "my digit #3.pgm"), Path.Combine(a, "blank.pgm")];
        for (var i = 0; i < 3; i++)
        {
            var (_, green, _) = Draw(digits[i].Digit, 2, 70, 64, 3 + i, 2);
            File.WriteAllBytes(images[i], Pgm(green, 70, 64));
        }
        File.WriteAllBytes(images[3], Pgm(Enumerable.Repeat((byte)200, 30 * 20).ToArray(), 30, 20));
        var seen = Path.Combine(folder.Path, "seen");
        var (log, error) = (new StringWriter(), new StringWriter());

        Assert.Equal(1, PredictCommand.Run(TrainedModel.ModelFile, images, json: false, log, error, saveFolder: seen));

        string[] names = ["seven-28x28.png", "Seven-2-28x28.png", "my_digit__3-28x28.png"];
        Assert.Equal(names.Order(StringComparer.Ordinal),
            Directory.GetFiles(seen).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        for (var i = 0; i < 3; i++)
        {
            var saved = DigitImage.Load(Path.Combine(seen, names[i]));
            Assert.Equal((MnistStyle.Size, MnistStyle.Size), (saved.Width, saved.Height));
            Assert.Equal(MnistStyle.Convert(DigitImage.Load(images[i]), images[i]), saved.Pixels);
        }
        Assert.Equal(3, log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal([$"{images[3]}: no digit found: the image is blank (one tone).",
            $"Wrote the 28×28 digits the model saw to {seen}."],
            error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // Again, quietly: the same files, replaced, and no note.
        error = new StringWriter();
        Assert.Equal(0, PredictCommand.Run(TrainedModel.ModelFile, images[..3], json: true, TextWriter.Null, error,
            saveFolder: seen, quiet: true));
        Assert.Empty(error.ToString());
        Assert.Equal(3, Directory.GetFiles(seen).Length);
    }

    [Fact]
    public void Save_preprocessed_refuses_a_file_or_a_folder_whose_parent_is_missing_before_predicting()
    {
        using var folder = new TemporaryFolder();
        var image = Path.Combine(folder.Path, "digit.pgm");
        var (_, green, _) = Draw(Digits()[1].Digit, 2, 60, 60, 2, 2);
        File.WriteAllBytes(image, Pgm(green, 60, 60));
        var file = Path.Combine(folder.Path, "seen");
        File.WriteAllText(file, "a file where the folder should be");
        var missing = Path.Combine(folder.Path, "typo", "seen");
        foreach (var (target, expected) in new[]
            {
                (file,
                    $"Cannot create the folder {file} given by --save-preprocessed: a file of that name is there; " +
                        "name a folder, or move the file."),
                (missing,
                    $"Cannot create the folder {missing} given by --save-preprocessed: its parent " +
                        $"{Path.Combine(folder.Path, "typo")} does not exist; create that folder " +
                        "first, or choose another."),
            })
        {
            var (log, error) = (new StringWriter(), new StringWriter());
            Assert.Equal(1, PredictCommand.Run(TrainedModel.ModelFile, [image], json: false, log, error,
                saveFolder: target));
            Assert.Equal(expected, error.ToString().TrimEnd());
            Assert.Empty(log.ToString());
        }
        Assert.Equal("a file where the folder should be", File.ReadAllText(file));
        Assert.False(Directory.Exists(Path.Combine(folder.Path, "typo")));

        var parseError = new StringWriter();
        Assert.Equal(2, Cli.Run(["predict", "--model", TrainedModel.ModelFile, "--save-preprocessed", " ", image],
            parseError, TextWriter.Null));
        Assert.StartsWith("--save-preprocessed is empty; name the folder to write to.", parseError.ToString());
    }

    [Theory]
    [InlineData("scans/seven.jpg", "seven-28x28.png")]
    [InlineData("my digit #3.PNG", "my_digit__3-28x28.png")]
    [InlineData("ziffer-ä.v2.bmp", "ziffer-ä.v2-28x28.png")]
    [InlineData("a\tb\u0001c.pgm", "a_b_c-28x28.png")]
    [InlineData(".hidden.png", "hidden-28x28.png")]
    [InlineData(".png", "image-28x28.png")]
    [InlineData("seven-28x28.png", "seven-28x28-28x28.png")]
    public void A_saved_digit_is_named_after_its_image_with_only_safe_characters(string image, string expected) =>
        Assert.Equal(expected, PredictCommand.PreprocessedName(image, new HashSet<string>()));

    [Fact]
    public void A_plain_pgm_and_a_sixteen_bit_pgm_read_as_the_same_picture()
    {
        var plain = PgmReader.Read(Encoding.ASCII.GetBytes("P2\n# a comment\n3 2\n10\n0 5 10\n10 5 0\n"));
        Assert.Equal((3, 2), (plain.Width, plain.Height));
        Assert.Equal(new byte[] { 0, 128, 255, 255, 128, 0 }, plain.Pixels);
        byte[] wide = [.. Encoding.ASCII.GetBytes("P5 3 2 1000\n"), 0, 0, 0x01, 0xF4, 0x03, 0xE8, 0x03, 0xE8, 0x01,
            0xF4, 0, 0];
        Assert.Equal(plain.Pixels, PgmReader.Read(wide).Pixels);
    }

    /// <summary>
    /// The digit (bright ink on black, 28×28) drawn bilinearly at <paramref name="scale"/>× with its top-left corner at
    /// (left, top) on a width × height canvas, as dark blue ink on cream paper; returns the three channels.
    /// </summary>
    internal static (byte[] Red, byte[] Green, byte[] Blue) Draw(byte[] digit, double scale, int width, int height,
        int left, int top)
    {
        var (red, green, blue) = (new byte[width * height], new byte[width * height], new byte[width * height]);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                double sx = (x - left + 0.5) / scale - 0.5, sy = (y - top + 0.5) / scale - 0.5;
                var ink = Sample(digit, sx, sy) / 255;
                red[y * width + x] = (byte)Math.Round(245 - ink * (245 - 20));
                green[y * width + x] = (byte)Math.Round(238 - ink * (238 - 30));
                blue[y * width + x] = (byte)Math.Round(220 - ink * (220 - 110));
            }
        return (red, green, blue);
    }

    private static double Sample(byte[] digit, double x, double y)
    {
        if (x < -1 || y < -1 || x > 28 || y > 28) return 0;
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        double fx = x - x0, fy = y - y0;
        double At(int cx, int cy) => cx is < 0 or > 27 || cy is < 0 or > 27 ? 0 : digit[cy * 28 + cx];
        return (1 - fy) * ((1 - fx) * At(x0, y0) + fx * At(x0 + 1, y0)) +
            fy * ((1 - fx) * At(x0, y0 + 1) + fx * At(x0 + 1, y0 + 1));
    }

    internal static byte[] Encode(byte[] red, byte[] green, byte[] blue, int width, int height,
        SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor(red[y * width + x], green[y * width + x], blue[y * width + x]));
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>A 24-bit BMP (BITMAPINFOHEADER, bottom-up rows padded to 4 bytes): Skia reads but does not write
    /// BMP.</summary>
    private static byte[] Bmp(byte[] red, byte[] green, byte[] blue, int width, int height)
    {
        var stride = (3 * width + 3) / 4 * 4;
        var bytes = new byte[54 + stride * height];
        void Int(int offset, int value) => BitConverter.TryWriteBytes(bytes.AsSpan(offset), value);
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        Int(2, bytes.Length);
        Int(10, 54);
        Int(14, 40);
        Int(18, width);
        Int(22, height);
        BitConverter.TryWriteBytes(bytes.AsSpan(26), (short)1);
        BitConverter.TryWriteBytes(bytes.AsSpan(28), (short)24);
        Int(34, stride * height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var at = 54 + (height - 1 - y) * stride + 3 * x;
                (bytes[at], bytes[at + 1], bytes[at + 2]) =
                    (blue[y * width + x], green[y * width + x], red[y * width + x]);
            }
        return bytes;
    }

    private static byte[] Pgm(byte[] gray, int width, int height) =>
        [.. Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n"), .. gray];
}
