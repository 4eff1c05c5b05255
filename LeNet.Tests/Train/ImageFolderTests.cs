// The image-folder dataset (train/<class>/*.png, test/<class>/…) on a folder of PNGs each test draws: what is read,
// skipped and cached, when the cache is used and when not, and a 3-class model read back, predicted and evaluated.
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Mnist;
using LeNet.Train;
using LeNet.Train.Images;
using SkiaSharp;

namespace LeNet.Tests.Train;

public class ImageFolderTests
{
    private static readonly string[] Classes = ["circle", "square", "triangle"];
    private const int TrainPerClass = 4, TestPerClass = 2;

    /// <summary>
    /// Writes train/ and test/ with <see cref="TrainPerClass"/> and <see cref="TestPerClass"/> shapes per class, one
    /// of them with an upper-case extension, plus a broken PNG in train/square and a text file in train/circle.
    /// </summary>
    private static void WriteDataset(string root)
    {
        foreach (var (split, count) in new[] { ("train", TrainPerClass), ("test", TestPerClass) })
            foreach (var shape in Classes)
            {
                var folder = Directory.CreateDirectory(Path.Combine(root, split, shape)).FullName;
                for (var i = 0; i < count; i++)
                {
                    var extension = split == "train" && shape == "triangle" && i == 3 ? "PNG" : "png";
                    File.WriteAllBytes(Path.Combine(folder, $"{shape}-{i}.{extension}"),
                        Draw(shape, i + (split == "test" ? 10 : 0)));
                }
            }
        File.WriteAllBytes(Path.Combine(root, "train", "square", "broken.png"), [0x89, (byte)'P', (byte)'N', 1, 2, 3]);
        File.WriteAllText(Path.Combine(root, "train", "circle", "notes.txt"), "drawn by the test");
    }

    /// <summary>A black shape on white paper, of a size and place that vary with <paramref name="variant"/>.</summary>
    private static byte[] Draw(string shape, int variant)
    {
        var side = 40 + 6 * variant;
        using var surface = SKSurface.Create(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true, Style = SKPaintStyle.Fill };
        float size = side * (0.4f + 0.03f * (variant % 5)), left = side * 0.1f + variant % 3, top = side * 0.15f;
        switch (shape)
        {
            case "circle":
                canvas.DrawCircle(left + size / 2, top + size / 2, size / 2, ink);
                break;
            case "square":
                canvas.DrawRect(left, top, size, size, ink);
                break;
            default:
                using (var path = new SKPath())
                {
                    path.MoveTo(left + size / 2, top);
                    path.LineTo(left + size, top + size);
                    path.LineTo(left, top + size);
                    path.Close();
                    canvas.DrawPath(path, ink);
                }
                break;
        }
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static (MnistData Data, List<string> Log) Load(string root)
    {
        var log = new List<string>();
        return (ImageFolderData.Load(root, log.Add), log);
    }

    private static string TrainImage(string root, string shape, int i) =>
        Path.Combine(root, "train", shape, $"{shape}-{i}.png");

    [Fact]
    public void A_folder_of_pngs_loads_with_its_class_names_and_the_broken_file_reported_by_name_and_counted()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);

        Assert.True(ImageFolderData.IsImageFolder(folder.Path));
        var (data, log) = Load(folder.Path);

        Assert.Equal(Classes, data.ClassNames);
        Assert.Equal(3 * TrainPerClass, data.Train.Count);
        Assert.Equal(3 * TestPerClass, data.Test.Count);
        Assert.Equal(3, data.Train.Classes);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], data.Train.Labels);
        Assert.Equal([0, 0, 1, 1, 2, 2], data.Test.Labels);
        Assert.Equal(32 * 32, data.Train.ImageLength);
        Assert.Matches("^[0-9a-f]{64}$", data.Identity);
        Assert.Equal(
        [
            $"Image folder {folder.Path}: 3 classes (circle, square, triangle), 19 images (1 other file ignored).",
            "Converting them to 28×28 digits as predict does (grayscale, fitted and centred)…",
            "Skipped train/square/broken.png: not a readable PNG, JPEG, BMP or PGM image.",
        ], log.Take(3));
        Assert.Matches(@"^Converted 18 of 19 images \(1 skipped\) in \d+\.\d s; cached in .+\.lenet-cache\.$", log[3]);
        Assert.Equal(4, log.Count);
    }

    [Fact]
    public void Each_image_is_the_digit_predict_makes_of_it_with_its_folder_s_label()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        var (data, _) = Load(folder.Path);

        // Files in ordinal order within each class, classes in ordinal order: the index tells the file.
        for (var c = 0; c < Classes.Length; c++)
            for (var i = 0; i < TrainPerClass; i++)
            {
                var extension = Classes[c] == "triangle" && i == 3 ? "PNG" : "png";
                var path = Path.Combine(folder.Path, "train", Classes[c], $"{Classes[c]}-{i}.{extension}");
                var index = c * TrainPerClass + i;
                Assert.Equal(c, data.Train.Labels[index]);
                Assert.Equal(Preprocessed(path, train: true), data.Train.Images.AsSpan(index * 1024, 1024).ToArray());
            }
        for (var c = 0; c < Classes.Length; c++)
            for (var i = 0; i < TestPerClass; i++)
            {
                var path = Path.Combine(folder.Path, "test", Classes[c], $"{Classes[c]}-{i}.png");
                var index = c * TestPerClass + i;
                Assert.Equal(c, data.Test.Labels[index]);
                Assert.Equal(Preprocessed(path, train: false), data.Test.Images.AsSpan(index * 1024, 1024).ToArray());
            }
    }

    /// <summary>What predict feeds the model for <paramref name="path"/>, with the split's normalisation.</summary>
    private static float[] Preprocessed(string path, bool train)
    {
        var digit = MnistStyle.Convert(DigitImage.Load(path), path);
        var floats = new float[32 * 32];
        MnistPreprocessing.Preprocess(digit, 1, 28, 32,
            train ? MnistPreprocessing.TrainMean : MnistPreprocessing.TestMean,
            train ? MnistPreprocessing.TrainStd : MnistPreprocessing.TestStd, floats);
        return floats;
    }

    [Fact]
    public void An_unchanged_folder_loads_from_the_cache_without_decoding_an_image()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        var (first, _) = Load(folder.Path);

        // Every image becomes garbage of the same size and time: only a load that decodes nothing still succeeds.
        foreach (var file in Directory.EnumerateFiles(folder.Path, "*.png", SearchOption.AllDirectories)
                     .Concat(Directory.EnumerateFiles(folder.Path, "*.PNG", SearchOption.AllDirectories)))
        {
            var modified = File.GetLastWriteTimeUtc(file);
            File.WriteAllBytes(file, Enumerable.Repeat((byte)'x', (int)new FileInfo(file).Length).ToArray());
            File.SetLastWriteTimeUtc(file, modified);
        }
        var (second, log) = Load(folder.Path);

        Assert.Equal(first.Train.Images, second.Train.Images);
        Assert.Equal(first.Test.Images, second.Test.Images);
        Assert.Equal(first.Train.Labels, second.Train.Labels);
        Assert.Equal(first.Identity, second.Identity);
        Assert.Equal(first.ClassNames, second.ClassNames);
        Assert.DoesNotContain(log, l => l.StartsWith("Converting"));
        Assert.Equal("Skipped train/square/broken.png: not a readable PNG, JPEG, BMP or PGM image.", log[1]);
        Assert.Equal($"Loaded 18 of 19 images (1 skipped) from the cache in {folder.Path}/.lenet-cache.", log[2]);
    }

    [Fact]
    public void A_changed_image_makes_the_folder_convert_again()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        var (first, _) = Load(folder.Path);

        File.WriteAllBytes(TrainImage(folder.Path, "circle", 1), Draw("circle", 7));
        var (second, log) = Load(folder.Path);

        Assert.Contains(log,
            l => l.EndsWith("is out of date (the images changed since it was written); converting again."));
        Assert.Contains(log, l => l.StartsWith("Converting"));
        Assert.Equal(Preprocessed(TrainImage(folder.Path, "circle", 1), train: true),
            second.Train.Images.AsSpan(1024, 1024).ToArray());
        Assert.NotEqual(first.Train.Images.AsSpan(1024, 1024).ToArray(),
            second.Train.Images.AsSpan(1024, 1024).ToArray());
        Assert.NotEqual(first.Identity, second.Identity);
        // Images untouched are converted as before.
        Assert.Equal(first.Train.Images.AsSpan(2048).ToArray(), second.Train.Images.AsSpan(2048).ToArray());
    }

    [Fact]
    public void A_damaged_cache_is_not_trusted_but_converted_again()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        var (first, _) = Load(folder.Path);

        var cached = Path.Combine(folder.Path, ".lenet-cache", "train-images-idx3-ubyte");
        var bytes = File.ReadAllBytes(cached);
        bytes[^100] ^= 0xff;
        File.WriteAllBytes(cached, bytes);
        var (second, log) = Load(folder.Path);

        Assert.Contains(log, l => l == $"The cache in {folder.Path}/.lenet-cache cannot be used " +
            "(train-images-idx3-ubyte does not match its checksum); converting again.");
        Assert.Equal(first.Train.Images, second.Train.Images);
        // Rewritten: the third load takes the cache again.
        var (_, third) = Load(folder.Path);
        Assert.Contains(third, l => l.StartsWith("Loaded 18 of 19 images (1 skipped) from the cache"));
    }

    [Fact]
    public void A_cache_that_cannot_be_written_is_said_and_the_data_are_used_all_the_same()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        File.WriteAllText(Path.Combine(folder.Path, ".lenet-cache"), "a file where the cache folder goes");

        var (data, log) = Load(folder.Path);

        Assert.Equal(3 * TrainPerClass, data.Train.Count);
        Assert.Matches(@"^Converted 18 of 19 images \(1 skipped\) in \d+\.\d s; not cached, so the next run converts " +
            @"them again: Could not create .+\.lenet-cache \(.+\)\.$", log[^1]);
        Assert.Contains("Converting them", Load(folder.Path).Log[1]);
    }

    [Fact]
    public void A_test_class_that_is_not_a_training_class_is_refused_in_one_sentence()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        Directory.CreateDirectory(Path.Combine(folder.Path, "test", "hexagon"));
        File.WriteAllBytes(Path.Combine(folder.Path, "test", "hexagon", "h.png"), Draw("square", 1));

        var error = Assert.Throws<MnistDataException>(() => Load(folder.Path));

        Assert.Equal($"The image folder {folder.Path} has test images of class hexagon, which has no folder in " +
            "train/; the test classes must be the training classes, so add train/hexagon or remove test/hexagon.",
            error.Message);
    }

    [Fact]
    public void A_training_class_without_test_images_is_fine()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        Directory.Delete(Path.Combine(folder.Path, "test", "square"), recursive: true);

        var (data, _) = Load(folder.Path);

        Assert.Equal(Classes, data.ClassNames);
        Assert.Equal([0, 0, 2, 2], data.Test.Labels);
    }

    [Fact]
    public void One_class_an_empty_class_and_an_unprintable_class_name_are_each_refused_in_one_sentence()
    {
        using var folder = new TemporaryFolder();
        WriteDataset(folder.Path);
        var root = folder.Path;
        Directory.CreateDirectory(Path.Combine(root, "train", "empty"));
        Assert.Equal($"The class folder {root}/train/empty holds no images (.png, .jpg, .jpeg, .bmp, .gif, .pgm); " +
            "put the class's images there, or remove the folder.",
            Assert.Throws<MnistDataException>(() => Load(root)).Message);

        Directory.Delete(Path.Combine(root, "train", "empty"));
        Directory.CreateDirectory(Path.Combine(root, "train", "bell\u0007"));
        Assert.Equal($"The image folder {root} has a class folder whose name cannot be a class name " +
            "(train/bell\\u0007: it holds the unprintable character U+0007); rename the folder.",
            Assert.Throws<MnistDataException>(() => Load(root)).Message);

        Directory.Delete(Path.Combine(root, "train", "bell\u0007"));
        Directory.Delete(Path.Combine(root, "train", "square"), recursive: true);
        Directory.Delete(Path.Combine(root, "train", "triangle"), recursive: true);
        Directory.Delete(Path.Combine(root, "test"), recursive: true);
        Assert.Equal($"The image folder {root} has 1 class folder in train/, but a dataset needs 2 to 256; put each " +
            "class's images in a folder of its own, named for the class, under train/.",
            Assert.Throws<MnistDataException>(() => Load(root)).Message);
    }

    [Fact]
    public void Only_a_folder_with_train_class_folders_is_an_image_folder_and_data_folder_reads_it()
    {
        using var folder = new TemporaryFolder();
        Assert.False(ImageFolderData.IsImageFolder(folder.Path));
        Directory.CreateDirectory(Path.Combine(folder.Path, "train", ".hidden"));
        Assert.False(ImageFolderData.IsImageFolder(folder.Path));
        Assert.False(ImageFolderData.IsImageFolder(Path.Combine(folder.Path, "missing")));
        // Images not yet sorted into class folders are an image folder, which Load then refuses in a sentence.
        File.WriteAllBytes(Path.Combine(folder.Path, "train", "a.png"), Draw("circle", 1));
        Assert.True(ImageFolderData.IsImageFolder(folder.Path));
        Assert.StartsWith($"The image folder {folder.Path} has 0 class folders in train/",
            Assert.Throws<MnistDataException>(() => DataFolder.Load(folder.Path, _ => { }, verifyChecksums: true))
                .Message);
        File.Delete(Path.Combine(folder.Path, "train", "a.png"));

        WriteDataset(folder.Path);
        var data = DataFolder.Load(folder.Path, _ => { }, verifyChecksums: true);
        Assert.Equal(Classes, data.ClassNames);
    }

    [Fact]
    public void A_three_class_model_is_read_back_predicts_three_probabilities_and_evaluates_on_its_folder()
    {
        using var folder = new TemporaryFolder();
        var root = Path.Combine(folder.Path, "shapes");
        WriteDataset(root);
        var (data, _) = Load(root);
        var modelPath = Path.Combine(folder.Path, "model.safetensors");
        SafeTensors.Save(modelPath, ModelVariants.Create("lenet5", classes: 3, seed: 5).StateDict(), Metadata(Classes));

        var saved = SavedModel.Load(modelPath);

        Assert.Equal("lenet5", saved.Variant);
        Assert.Equal(Classes, saved.ClassNames);
        // predict on a test picture gives the model's softmax of that picture's image in the dataset.
        var picture = Path.Combine(root, "test", "square", "square-1.png");
        var prediction = PredictCommand.Predict(saved, picture);
        saved.Model.Eval();
        float[] logits;
        using (GradientTape.NoGrad())
            logits = saved.Model.Forward(Tensor.FromArray(data.Test.Images.AsSpan(3 * 1024, 1024), 1, 1, 32, 32))
                .ToArray();
        var exponentials = logits.Select(v => MathF.Exp(v - logits.Max())).ToArray();
        Assert.Equal(exponentials.Select(v => v / exponentials.Sum()), prediction.Probabilities!,
            (a, b) => Math.Abs(a - b) < 1e-6);
        var text = new StringWriter();
        Assert.Equal(0, PredictCommand.Run(modelPath, [picture], json: false, text, TextWriter.Null));
        Assert.Matches(@"^.+square-1\.png: \w+ \(\d+\.\d %\)   circle \d\.\d{4}  square \d\.\d{4}  triangle \d\.\d{4}$",
            text.ToString().TrimEnd());

        var log = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, EvaluateCommand.Run(modelPath, root, null, json: true, null, log, error));
        Assert.Contains("\"triangle\"", log.ToString());
        Assert.Contains("from the cache", error.ToString());

        // A model of MNIST's ten digits does not evaluate on these shapes.
        var digits = Path.Combine(folder.Path, "digits.safetensors");
        SafeTensors.Save(digits, ModelVariants.Create("lenet5", seed: 5).StateDict(), Metadata(ClassNamesFile.Digits));
        error = new StringWriter();
        Assert.Equal(1, EvaluateCommand.Run(digits, root, null, json: true, null, TextWriter.Null, error));
        Assert.Contains("The model knows the classes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, but the image folder " +
            $"{root} holds circle, square, triangle; evaluate on a folder with the model's classes", error.ToString());
    }

    private static Dictionary<string, string> Metadata(IReadOnlyList<string> classes) => new()
    {
        ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = "lenet5",
        ["classes"] = classes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["class_names"] = System.Text.Json.JsonSerializer.Serialize(classes),
    };
}
