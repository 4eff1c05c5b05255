using System.Text.Json;
using System.Text.RegularExpressions;
using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>The trainer end to end on a subset of the real MNIST files (shared/mnist, as in CI).</summary>
public partial class EndToEndTests
{
    [Fact]
    public void Training_on_a_subset_of_real_mnist_learns_the_digits_and_saves_model_and_metrics()
    {
        using var output = new TemporaryFolder();
        var metricsFile = Path.Combine(output.Path, "m", "run.json");
        var log = new StringWriter();
        var options = new TrainOptions
        {
            DataDirectory = MnistTestData.Directory, Limit = 3000, TestLimit = 2000, Epochs = 2, LogEvery = 20,
            OutputDirectory = Path.Combine(output.Path, "out"), MetricsFile = metricsFile,
        };

        var code = TrainCommand.Run(options, log, TextWriter.Null);

        Assert.Equal(0, code);
        var lines = log.ToString().Split('\n', StringSplitOptions.TrimEntries);
        // The seed's log lines: 3000 images at batch 64 make 47 steps, a line every 20.
        Assert.Equal(4, lines.Count(l => StepLine().IsMatch(l)));
        Assert.Contains("Epoch [2/2], Step [40/47], Loss: ", log.ToString());
        var final = lines.Single(l => l.StartsWith("Accuracy of the network on the 2000 test images: ",
            StringComparison.Ordinal));

        using var metrics = JsonDocument.Parse(File.ReadAllText(metricsFile));
        var root = metrics.RootElement;
        var epochs = root.GetProperty("epochs").EnumerateArray().ToArray();
        Assert.Equal(2, epochs.Length);
        Assert.All(epochs, e => Assert.True(e.GetProperty("seconds").GetDouble() > 0));
        Assert.True(epochs[1].GetProperty("meanLoss").GetDouble() < epochs[0].GetProperty("meanLoss").GetDouble(),
            "the mean loss should fall from epoch 1 to 2");
        var accuracy = root.GetProperty("finalTestAccuracy").GetDouble();
        // 6,000 image-steps give about 90 % here (92.7 % on all 10,000 test images); a broken gradient stays far below.
        Assert.InRange(accuracy, 85.0, 100.0);
        Assert.Equal("cpu", root.GetProperty("device").GetString());
        Assert.True(root.GetProperty("totalSeconds").GetDouble() >= root.GetProperty("trainingSeconds").GetDouble());
        // Two decimals, as in the epoch lines.
        Assert.EndsWith($" {accuracy.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)} %", final);
        Assert.Contains($"test accuracy {accuracy.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)} %",
            lines.Last(l => l.StartsWith("Epoch [2/2] took", StringComparison.Ordinal)));

        // The saved model reproduces the reported accuracy.
        var (tensors, metadata) = SafeTensors.Load(Path.Combine(options.OutputDirectory, "model.safetensors"));
        Assert.Equal("lenet5", metadata["model"]);
        var model = new LeNet5();
        model.LoadStateDict(tensors);
        Assert.Equal(accuracy, Trainer.Evaluate(model,
            MnistDataset.Load(MnistTestData.Directory, train: false, limit: 2000)));
    }

    [Fact]
    public void The_same_seed_gives_bit_identical_weights_and_another_seed_does_not()
    {
        using var folder = new TemporaryFolder();
        byte[] Train(string name, int seed)
        {
            var options = new TrainOptions
            {
                DataDirectory = MnistTestData.Directory, Limit = 640, TestLimit = 100, Epochs = 2, Seed = seed,
                OutputDirectory = Path.Combine(folder.Path, name),
            };
            Assert.Equal(0, TrainCommand.Run(options, TextWriter.Null, TextWriter.Null));
            return File.ReadAllBytes(Path.Combine(options.OutputDirectory, "model.safetensors"));
        }

        var first = Train("a", seed: 3);
        Assert.Equal(first, Train("b", seed: 3));
        Assert.NotEqual(first, Train("c", seed: 4));
    }

    [GeneratedRegex(@"^Epoch \[\d/2\], Step \[\d+/47\], Loss: \d+\.\d{4}$")]
    private static partial Regex StepLine();
}
