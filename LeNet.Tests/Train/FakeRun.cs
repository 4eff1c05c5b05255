using LeNet.Mnist;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// A plausible run, invented with a fixed seed, to draw pictures from without training: a decaying noisy loss, a
/// cosine learning rate, validation that stops improving, and about 2 % of real test digits confused as models do.
/// </summary>
public static class FakeRun
{
    public const int TestImages = 1000;

    public static TrainingMetrics Metrics(int epochs = 10, bool validation = true, int stepsPerEpoch = 938,
        int logEvery = 10)
    {
        var random = new Random(7);
        var total = epochs * stepsPerEpoch;
        var steps = new List<StepPoint>();
        for (var step = logEvery; step <= total; step += logEvery)
        {
            var rate = 0.0005 * (1 + Math.Cos(Math.PI * step / total));
            var loss = (0.02 + 0.6 / (1 + step / 60.0)) * Math.Exp(0.35 * Gaussian(random));
            steps.Add(new StepPoint(step, (step - 1) / stepsPerEpoch + 1, loss, rate));
        }
        var epochList = Enumerable.Range(1, epochs).Select(e => new EpochMetrics(e, 3.1, 19_000,
            0.16 / Math.Pow(e, 1.05), 98.0 + 1.0 * (1 - Math.Exp(-e / 2.5)) + 0.05 * Gaussian(random))
        {
            TrainAccuracy = 95.2 + 4.4 * (1 - Math.Exp(-e / 2.0)),
            ValidationLoss = validation ? 0.045 + 0.0009 * (e - 7) * (e - 7) : null,
            ValidationAccuracy = validation ? 98.4 + 0.7 * (1 - Math.Exp(-e / 2.0)) - 0.01 * Math.Max(0, e - 7) : null,
            LearningRate = 0.0005 * (1 + Math.Cos(Math.PI * e / epochs)),
        }).ToList();
        return new TrainingMetrics
        {
            Model = "lenet5", Device = "cpu", Seed = 0, BatchSize = 64, LearningRate = 0.001f, TrainImages = 60_000,
            TestImages = TestImages, Schedule = "cosine", ValidationImages = validation ? 5_000 : 0,
            Epochs = epochList, Steps = steps, BestEpoch = validation ? Math.Min(7, epochs) : epochs,
            FinalTestAccuracy = 99.02,
        };
    }

    public static MnistDataset Test() =>
        MnistDataset.Load(MnistTestData.Directory, train: false, limit: TestImages, verifyChecksums: false);

    /// <summary>Predictions on <paramref name="test"/>: right but for the usual confusions (4→9, 7→2, 3→5, ...).
    /// </summary>
    public static Evaluation Evaluation(MnistDataset test, bool confidence = true)
    {
        var random = new Random(3);
        int[] likelyMistake = [6, 7, 7, 5, 9, 3, 0, 2, 3, 4];
        var predictions = new int[test.Count];
        var confidences = new float[test.Count];
        for (var i = 0; i < test.Count; i++)
        {
            var label = test.Labels[i];
            var wrong = random.NextDouble() < 0.02;
            predictions[i] = !wrong ? label : random.NextDouble() < 0.7 ? likelyMistake[label] : (label + 1 +
                random.Next(9)) % 10;
            var sure = (float)random.NextDouble();
            confidences[i] = wrong ? 0.4f + 0.6f * sure : 0.9f + 0.1f * sure;
        }
        return new Evaluation(test.Labels, predictions, ClassNamesFile.Digits, confidence ? confidences : [],
            confidence ? 0.035 : double.NaN);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
