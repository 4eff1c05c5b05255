using LeNet.Core;
using LeNet.Core.Modules;
using LeNet.Core.Training;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>Evaluation from logits: the loss and confidences a hand computation gives, batch size aside.</summary>
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
}
