using System.Text.Json;
using LeNet.Core;
using LeNet.Core.Modules;
using LeNet.Core.Training;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// Evaluation from logits: the loss and confidences a hand computation gives, batch size aside; the rates, their
/// averages and the two forms they are written in, against a confusion counted by hand.
/// </summary>
public class EvaluationTests
{
    // An identity layer: the "images" are the logits themselves.
    private static readonly float[] Logits = [2, 1, 0, 0, 3, 1, 1000, 0, -1000, 0, 0, 0];
    private static readonly int[] Labels = [0, 2, 2, 1];
    private static readonly string[] Names = ["a", "b", "c"];

    [Theory]
    [InlineData(1000)]
    [InlineData(3)]
    [InlineData(1)]
    public void Run_gives_the_mean_cross_entropy_and_the_confidence_of_each_prediction(int batchSize)
    {
        var evaluation = Evaluation.Run(Identity(), BatchSource.Create(Device.Cpu, Logits, Labels, 3), Labels, Names,
            batchSize);

        // Per image, log(Σ exp(logit)) − logit[label], by hand: log(1 + e⁻¹ + e⁻²); 2 + log(1 + e⁻³ + e⁻²); 2000
        // (where exp(1000) overflows a double unless the largest logit is taken out first); log 3.
        double[] losses = [0.4076059644443806, 2.1698460195562856, 2000.0, 1.0986122886681098];
        Assert.Equal(losses.Average(), evaluation.Loss, 1e-9);
        Assert.Equal([0, 1, 0, 0], evaluation.Predictions); // a tie goes to the first class
        double[] confidence = [0.6652409557748218, 0.8437947344813396, 1, 1 / 3.0]; // 1 / Σ exp(logit − max)
        Assert.Equal(confidence.Length, evaluation.Confidence.Length);
        for (var i = 0; i < confidence.Length; i++) Assert.Equal(confidence[i], evaluation.Confidence[i], 1e-7);
        Assert.Equal(1, evaluation.Correct);
        Assert.Equal(evaluation.Predictions, Evaluation.Predict(Identity(),
            BatchSource.Create(Device.Cpu, Logits, Labels, 3), batchSize));
    }

    [Fact]
    public void Built_from_predictions_it_has_no_loss_and_no_confidence()
    {
        var evaluation = new Evaluation(Labels, [0, 2, 2, 0], Names);
        Assert.True(double.IsNaN(evaluation.Loss));
        Assert.Empty(evaluation.Confidence);
        Assert.Equal(75, evaluation.Accuracy);
    }

    [Fact]
    public void Labels_that_do_not_match_the_images_are_refused()
    {
        Assert.Throws<ArgumentException>(() =>
            Evaluation.Run(Identity(), BatchSource.Create(Device.Cpu, Logits, Labels, 3), [0, 1], Names));
    }

    private static Linear Identity()
    {
        var layer = new Linear(3, 3, new Random(1), bias: false);
        layer.LoadStateDict(new Dictionary<string, (int[] Shape, float[] Values)>
        {
            ["weight"] = ([3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]),
        });
        return layer;
    }

    // Confusion (rows true a, b, c, d): a [3 1 0 0], b [0 1 1 0], c [0 0 0 0], d [1 0 0 0]. c is predicted but never
    // held; d is held but never predicted.
    private static Evaluation Counted() => new([0, 0, 0, 0, 1, 1, 3], [0, 0, 0, 1, 1, 2, 0], ["a", "b", "c", "d"]);

    [Fact]
    public void Precision_recall_f1_and_their_averages_are_those_counted_by_hand()
    {
        var evaluation = Counted();
        Assert.Equal([3 / 4.0, 1 / 2.0, 0, null], evaluation.Precision);
        Assert.Equal([3 / 4.0, 1 / 2.0, null, 0], evaluation.Recall);
        // 2·TP / (2·TP + FP + FN): 6/8, 2/4, 0/1, 0/1.
        Assert.Equal([0.75, 0.5, 0, 0], evaluation.F1);
        Assert.Equal([4, 2, 0, 1], evaluation.Support);
        // Macro: over a, b and d (c has no images), d's undefined precision counting as 0.
        Assert.Equal((1.25 / 3, 1.25 / 3, 1.25 / 3), evaluation.Macro);
        Assert.Equal((4 / 7.0, 4 / 7.0, 4 / 7.0), evaluation.Weighted); // (4·0.75 + 2·0.5 + 1·0) / 7
    }

    [Fact]
    public void The_json_gives_fractions_and_null_where_a_rate_is_undefined()
    {
        using var json = JsonDocument.Parse(Counted().ToJson("lenet5"));
        var root = json.RootElement;
        Assert.Equal(4 / 7.0, root.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("loss").ValueKind);
        var classes = root.GetProperty("classes").EnumerateArray().ToArray();
        Assert.Equal(0.75, classes[0].GetProperty("precision").GetDouble());
        Assert.Equal(0.5, classes[1].GetProperty("f1").GetDouble());
        Assert.Equal(JsonValueKind.Null, classes[2].GetProperty("recall").ValueKind);
        Assert.Equal(JsonValueKind.Null, classes[3].GetProperty("precision").ValueKind);
        Assert.Equal(1, classes[3].GetProperty("images").GetInt32());
        Assert.Equal(1.25 / 3, root.GetProperty("macro").GetProperty("f1").GetDouble(), 12);
        Assert.Equal(4 / 7.0, root.GetProperty("weighted").GetProperty("recall").GetDouble(), 12);

        using var withLoss = JsonDocument.Parse(
            Evaluation.Run(Identity(), BatchSource.Create(Device.Cpu, Logits, Labels, 3), Labels, Names).ToJson());
        Assert.Equal(500.9190160681672, withLoss.RootElement.GetProperty("loss").GetDouble(), 9);
    }

    [Fact]
    public void The_table_gives_percent_with_the_averages_under_the_classes()
    {
        var table = new StringWriter();
        Counted().WriteTable(table);
        var lines = table.ToString().Split(Environment.NewLine);
        Assert.Equal("Accuracy on 7 images: 57.14 % (4 correct)", lines[0]);
        Assert.Equal([
            "class     precision %  recall %    F1 %  images",
            "a               75.00     75.00   75.00       4",
            "b               50.00     50.00   50.00       2",
            "c                0.00         –    0.00       0",
            "d                   –      0.00    0.00       1",
            "macro           41.67     41.67   41.67       7",
            "weighted        57.14     57.14   57.14       7",
        ], lines[2..9]);

        table = new StringWriter();
        Evaluation.Run(Identity(), BatchSource.Create(Device.Cpu, Logits, Labels, 3), Labels, Names).WriteTable(table);
        Assert.StartsWith("Accuracy on 4 images: 25.00 % (1 correct), mean loss 500.9190 (cross-entropy)",
            table.ToString());
    }
}
