using System.Text.Json;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

public class EvaluateTests
{
    private const int Images = 300;

    [Fact]
    public void Evaluate_reports_the_accuracy_precision_recall_and_confusion_an_independent_count_gives()
    {
        using var folder = new TemporaryFolder();
        var jsonFile = Path.Combine(folder.Path, "evaluation.json");
        var log = new StringWriter();
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, Images, json: true,
            jsonFile, log, TextWriter.Null));
        using var report = JsonDocument.Parse(log.ToString());
        Assert.Equal(File.ReadAllText(jsonFile).Trim(), log.ToString().Trim());

        // Independently: the weights read straight from the file, one image at a time, counts by hand.
        var (tensors, _) = SafeTensors.Load(TrainedModel.ModelFile);
        var model = new LeNet5();
        model.LoadStateDict(tensors);
        model.Eval();
        var test = MnistDataset.Load(MnistTestData.Directory, train: false, limit: Images, verifyChecksums: false);
        var confusion = new int[10, 10];
        using (GradientTape.NoGrad())
            for (var i = 0; i < Images; i++)
            {
                var logits = model.Forward(Tensor.FromArray(test.Images.AsSpan(i * test.ImageLength, test.ImageLength),
                    1, 1, 32, 32)).ToArray();
                confusion[test.Labels[i], Array.IndexOf(logits, logits.Max())]++;
            }

        var root = report.RootElement;
        Assert.Equal("lenet5", root.GetProperty("model").GetString());
        Assert.Equal(Images, root.GetProperty("images").GetInt32());
        var correct = Enumerable.Range(0, 10).Sum(c => confusion[c, c]);
        Assert.Equal(correct, root.GetProperty("correct").GetInt32());
        Assert.Equal((double)correct / Images, root.GetProperty("accuracy").GetDouble(), 12);
        Assert.InRange(root.GetProperty("loss").GetDouble(), 0.01, 1.0);
        Assert.InRange(correct, Images * 80 / 100, Images);
        var matrix = root.GetProperty("confusion").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToArray();
        for (var t = 0; t < 10; t++)
            for (var p = 0; p < 10; p++)
                Assert.Equal(confusion[t, p], matrix[t][p]);
        var classes = root.GetProperty("classes").EnumerateArray().ToArray();
        for (var c = 0; c < 10; c++)
        {
            int column = 0, row = 0;
            for (var k = 0; k < 10; k++) { column += confusion[k, c]; row += confusion[c, k]; }
            Assert.Equal(c.ToString(), classes[c].GetProperty("name").GetString());
            Assert.Equal(row, classes[c].GetProperty("images").GetInt32());
            Assert.Equal((double)confusion[c, c] / row, classes[c].GetProperty("recall").GetDouble(), 12);
            if (column == 0) Assert.Equal(JsonValueKind.Null, classes[c].GetProperty("precision").ValueKind);
            else Assert.Equal((double)confusion[c, c] / column, classes[c].GetProperty("precision").GetDouble(), 12);
            Assert.Equal(2.0 * confusion[c, c] / (row + column), classes[c].GetProperty("f1").GetDouble(), 12);
        }

        // The console form says the same.
        var table = new StringWriter();
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, Images, json: false, null,
            table, TextWriter.Null));
        Assert.Contains($"Accuracy on {Images} images: {100.0 * correct / Images:F2} % ({correct} correct)",
            table.ToString());
        Assert.Contains("Confusion matrix (rows: true class, columns: predicted class):", table.ToString());
    }

    [Fact]
    public void Class_names_come_from_a_classes_txt_beside_the_data_and_a_bad_one_is_refused()
    {
        using var folder = new TemporaryFolder();
        foreach (var part in new[] { MnistPart.TestImages, MnistPart.TestLabels })
        {
            var source = MnistFiles.Find(MnistTestData.Directory, part)!;
            File.Copy(source, Path.Combine(folder.Path, Path.GetFileName(source)));
        }
        string[] names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
        File.WriteAllLines(Path.Combine(folder.Path, "classes.txt"), [.. names, ""]);
        var log = new StringWriter();
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, folder.Path, 100, json: true, null, log,
            TextWriter.Null));
        using var report = JsonDocument.Parse(log.ToString());
        Assert.Equal(names, report.RootElement.GetProperty("classes").EnumerateArray()
            .Select(c => c.GetProperty("name").GetString()));
        Assert.Equal(names, ClassNamesFile.Load(folder.Path));

        File.WriteAllLines(Path.Combine(folder.Path, "classes.txt"), ["cat", "dog", "cow"]);
        var error = new StringWriter();
        Assert.Equal(1, EvaluateCommand.Run(TrainedModel.ModelFile, folder.Path, 100, json: true, null, TextWriter.Null,
            error));
        Assert.Equal(
            $"{Path.Combine(folder.Path, "classes.txt")}: holds 3 class names on 3 lines, but the labels are 0..9; " +
                "write exactly ten names, one per line in label order, or remove the file.",
            error.ToString().TrimEnd());
    }

    [Fact]
    public void A_missing_or_foreign_model_file_is_refused_with_one_sentence()
    {
        using var folder = new TemporaryFolder();
        var missing = Path.Combine(folder.Path, "nothing.safetensors");
        var error = new StringWriter();
        Assert.Equal(1, EvaluateCommand.Run(missing, MnistTestData.Directory, 10, false, null, TextWriter.Null, error));
        Assert.Equal(
            $"There is no model file at {missing}; pass the model.safetensors (or checkpoint) that `train` wrote " +
                "to its --output folder.",
            error.ToString().TrimEnd());

        var foreign = Path.Combine(folder.Path, "other.safetensors");
        SafeTensors.Save(foreign, [("w", Tensor.Zeros(2))], new Dictionary<string, string> { ["model"] = "resnet50" });
        error = new StringWriter();
        Assert.Equal(1, EvaluateCommand.Run(foreign, MnistTestData.Directory, 10, false, null, TextWriter.Null, error));
        Assert.StartsWith($"The model file {foreign} holds model 'resnet50', which this build does not know",
            error.ToString());
    }
}
