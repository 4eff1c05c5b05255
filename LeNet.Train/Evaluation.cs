using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Core.Training;

namespace LeNet.Train;

/// <summary>
/// A model's predictions on a labelled set, summarised: accuracy, per-class precision and recall, and the confusion
/// matrix (rows: true class, columns: predicted class); from logits (<see cref="Run(Module, BatchSource, int[],
/// IReadOnlyList{string}, int)"/>) also the mean loss and each prediction's confidence.
/// </summary>
public sealed class Evaluation
{
    /// <summary>From predictions alone: no loss (NaN) and no confidence (empty).</summary>
    public Evaluation(int[] labels, int[] predictions, IReadOnlyList<string> classNames)
        : this(labels, predictions, classNames, [], double.NaN)
    {
    }

    private Evaluation(int[] labels, int[] predictions, IReadOnlyList<string> classNames, float[] confidence,
        double loss)
    {
        if (labels.Length != predictions.Length)
            throw new ArgumentException($"{labels.Length} labels but {predictions.Length} predictions.");
        (Labels, Predictions, ClassNames, Confidence, Loss) = (labels, predictions, classNames, confidence, loss);
        var classes = classNames.Count;
        Confusion = new int[classes][];
        for (var c = 0; c < classes; c++) Confusion[c] = new int[classes];
        for (var i = 0; i < labels.Length; i++) Confusion[labels[i]][predictions[i]]++;
        Correct = Enumerable.Range(0, classes).Sum(c => Confusion[c][c]);
        Precision = Enumerable.Range(0, classes)
            .Select(c => Ratio(Confusion[c][c], Enumerable.Range(0, classes).Sum(t => Confusion[t][c]))).ToArray();
        Recall = Enumerable.Range(0, classes).Select(c => Ratio(Confusion[c][c], Confusion[c].Sum())).ToArray();

        static double? Ratio(int part, int whole) => whole == 0 ? null : (double)part / whole;
    }

    public int[] Labels { get; }
    public int[] Predictions { get; }
    /// <summary>Per image, the softmax probability of the predicted class; empty when built from predictions.</summary>
    public float[] Confidence { get; }
    /// <summary>Mean cross-entropy in nats; NaN when built from predictions (or over no images).</summary>
    public double Loss { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int Count => Labels.Length;
    public int Correct { get; }
    /// <summary>Percent correct.</summary>
    public double Accuracy => Count == 0 ? 0 : 100.0 * Correct / Count;
    /// <summary>[true class][predicted class] → count.</summary>
    public int[][] Confusion { get; }
    /// <summary>Of the images predicted as c, the fraction that are c; null when none was predicted as c.</summary>
    public double?[] Precision { get; }
    /// <summary>Of the images of class c, the fraction predicted as c; null when the set holds none.</summary>
    public double?[] Recall { get; }

    /// <summary>The predicted class of every image of <paramref name="dataset"/>, on the model's device.</summary>
    public static int[] Predict(Module model, MnistDataset dataset) => Predict(model, Source(model, dataset));

    private static BatchSource Source(Module model, MnistDataset dataset) => BatchSource.Create(
        model.Parameters().First().Device, dataset.Images, dataset.Labels, 1, dataset.ImageSize, dataset.ImageSize);

    /// <summary>The predicted class of every image in file order (see <see cref="ForEachBatch"/>).</summary>
    public static int[] Predict(Module model, BatchSource images, int batchSize = 1000)
    {
        var predictions = new int[images.Count];
        ForEachBatch(model, images, batchSize, (start, logits, classes) =>
        {
            for (var n = 0; n < logits.Length / classes; n++)
                predictions[start + n] = ArgMax(logits.Slice(n * classes, classes));
        });
        return predictions;
    }

    /// <summary>
    /// The model on every image of <paramref name="images"/>: predictions, each one's softmax probability and the mean
    /// cross-entropy against <paramref name="labels"/> (in file order, one per image).
    /// </summary>
    public static Evaluation Run(Module model, BatchSource images, int[] labels, IReadOnlyList<string> classNames,
        int batchSize = 1000)
    {
        if (labels.Length != images.Count)
            throw new ArgumentException($"{labels.Length} labels for {images.Count} images.", nameof(labels));
        var predictions = new int[images.Count];
        var confidence = new float[images.Count];
        var lossSum = 0.0;
        ForEachBatch(model, images, batchSize, (start, logits, classes) =>
        {
            for (var n = 0; n < logits.Length / classes; n++)
            {
                var row = logits.Slice(n * classes, classes);
                var best = ArgMax(row);
                // log-softmax in double, shifted by the largest logit so that no exponential overflows.
                double max = row[best], sum = 0;
                foreach (var logit in row) sum += Math.Exp(logit - max);
                lossSum += max + Math.Log(sum) - row[labels[start + n]];
                (predictions[start + n], confidence[start + n]) = (best, (float)(1 / sum));
            }
        });
        return new Evaluation(labels, predictions, classNames, confidence,
            images.Count == 0 ? double.NaN : lossSum / images.Count);
    }

    private delegate void BatchLogits(int start, ReadOnlySpan<float> logits, int classes);

    /// <summary>
    /// Runs the model over the images in file order, in evaluation mode without gradients, batch by batch on the
    /// source's device; only the logits [count, classes] come back, into one buffer reused for every batch.
    /// </summary>
    private static void ForEachBatch(Module model, BatchSource images, int batchSize, BatchLogits visit)
    {
        var wasTraining = model.Training;
        model.Eval();
        using (GradientTape.NoGrad())
        {
            batchSize = Math.Max(1, Math.Min(batchSize, images.Count));
            images.SetOrder(Enumerable.Range(0, images.Count).ToArray());
            var workspace = new Workspace();
            float[]? logits = null;
            for (var start = 0; start < images.Count; start += batchSize)
            {
                var count = Math.Min(batchSize, images.Count - start);
                using var scope = workspace.Begin();
                var output = model.Forward(images.Batch(start, count).Images);
                var classes = output.Length / count;
                logits ??= new float[batchSize * classes];
                output.CopyTo(logits);
                visit(start, logits.AsSpan(0, count * classes), classes);
            }
        }
        model.Train(wasTraining);
    }

    /// <summary>Predictions, confidences and loss on every image of <paramref name="dataset"/>, on the model's device.
    /// </summary>
    public static Evaluation Run(Module model, MnistDataset dataset, IReadOnlyList<string> classNames) =>
        Run(model, Source(model, dataset), dataset.Labels, classNames);

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var c = 1; c < values.Length; c++) if (values[c] > values[best]) best = c;
        return best;
    }

    /// <summary>The console form: accuracy, a per-class table, then the confusion matrix.</summary>
    public void WriteTable(TextWriter writer)
    {
        var width = Math.Max(5, ClassNames.Max(n => n.Length));
        writer.WriteLine($"Accuracy on {Count:N0} images: {Format(Accuracy, "F2")} % ({Correct:N0} correct)");
        writer.WriteLine();
        writer.WriteLine($"{"class".PadRight(width)}  precision   recall  images");
        for (var c = 0; c < ClassNames.Count; c++)
            writer.WriteLine($"{ClassNames[c].PadRight(width)}  {Percent(Precision[c]),9}  {Percent(Recall[c]),7}  " +
                $"{Confusion[c].Sum(),6:N0}");
        writer.WriteLine();
        writer.WriteLine("Confusion matrix (rows: true class, columns: predicted class):");
        var cell = Math.Max(5, Confusion.Max(r => r.Max()).ToString(CultureInfo.InvariantCulture).Length + 1);
        writer.WriteLine(new string(' ', width) +
            string.Concat(ClassNames.Select((n, c) => Short(n, c).PadLeft(cell))));
        for (var t = 0; t < ClassNames.Count; t++)
            writer.WriteLine(ClassNames[t].PadRight(width) +
                string.Concat(Confusion[t].Select(v => v.ToString(CultureInfo.InvariantCulture).PadLeft(cell))));

        string Short(string name, int c) => name.Length < cell ? name : c.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The JSON form: {model, images, correct, accuracy, classes: [...], confusion}.</summary>
    public string ToJson(string? model = null) => JsonSerializer.Serialize(new
    {
        model, images = Count, correct = Correct, accuracy = Accuracy,
        classes = ClassNames.Select((name, c) =>
            new { label = c, name, precision = Precision[c], recall = Recall[c], images = Confusion[c].Sum() }),
        confusion = Confusion,
    }, new JsonSerializerOptions { WriteIndented = true });

    private static string Percent(double? value) => value is { } v ? Format(100 * v, "F2") + "%" : "–";
    private static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
