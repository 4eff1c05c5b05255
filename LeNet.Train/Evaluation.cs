using LeNet.Core.Autograd;
using LeNet.Core.Modules;
using LeNet.Core.Training;

namespace LeNet.Train;

/// <summary>
/// A model's predictions on a labelled set, summarised: accuracy, per-class precision, recall and F1 with their macro
/// and weighted averages, and the confusion matrix (rows: true class, columns: predicted class); from logits
/// (<see cref="Run(Module, BatchSource, int[], IReadOnlyList{string}, int)"/>) also the mean loss and each prediction's
/// confidence.
/// </summary>
public sealed class Evaluation
{
    /// <summary>From predictions alone: no loss (NaN) and no confidence (empty).</summary>
    public Evaluation(int[] labels, int[] predictions, IReadOnlyList<string> classNames)
        : this(labels, predictions, classNames, [], double.NaN)
    {
    }

    /// <summary>
    /// From predictions with each one's confidence (one per image, or empty) and the mean loss (NaN: unknown), as a
    /// run that computed them elsewhere gives them.
    /// </summary>
    public Evaluation(int[] labels, int[] predictions, IReadOnlyList<string> classNames, float[] confidence,
        double loss)
    {
        if (confidence.Length != 0 && confidence.Length != labels.Length)
            throw new ArgumentException($"{confidence.Length} confidences for {labels.Length} images.");
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
        Support = Confusion.Select(row => row.Sum()).ToArray();
        Recall = Enumerable.Range(0, classes).Select(c => Ratio(Confusion[c][c], Support[c])).ToArray();
        // 2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall, and 0 (not undefined) for a class that
        // has images but was never predicted, as scikit-learn gives it.
        F1 = Enumerable.Range(0, classes).Select(c =>
            Ratio(2 * Confusion[c][c], Support[c] + Enumerable.Range(0, classes).Sum(t => Confusion[t][c]))).ToArray();
        // Averages over the classes the set holds; a never-predicted class among them counts with precision 0.
        var present = Enumerable.Range(0, classes).Where(c => Support[c] > 0).ToArray();
        Macro = Average(_ => 1);
        Weighted = Average(c => Support[c]);

        static double? Ratio(int part, int whole) => whole == 0 ? null : (double)part / whole;
        (double, double, double) Average(Func<int, double> weight)
        {
            var total = present.Sum(weight);
            double Mean(double?[] values) => present.Sum(c => weight(c) * (values[c] ?? 0)) / total;
            return (Mean(Precision), Mean(Recall), Mean(F1));
        }
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
    /// <summary>Percent correct (as the trainer's log and metrics give it; the JSON form gives the fraction).</summary>
    public double Accuracy => Count == 0 ? 0 : 100.0 * Correct / Count;
    /// <summary>[true class][predicted class] → count.</summary>
    public int[][] Confusion { get; }
    /// <summary>Of the images predicted as c, the fraction that are c; null when none was predicted as c.</summary>
    public double?[] Precision { get; }
    /// <summary>Of the images of class c, the fraction predicted as c; null when the set holds none.</summary>
    public double?[] Recall { get; }
    /// <summary>Per class, the harmonic mean of precision and recall; null when the class is neither held nor
    /// predicted.</summary>
    public double?[] F1 { get; }
    /// <summary>The images of each true class.</summary>
    public int[] Support { get; }
    /// <summary>Precision, recall and F1 averaged over the classes the set holds, each class alike (NaN: none held).
    /// </summary>
    public (double Precision, double Recall, double F1) Macro { get; }
    /// <summary>The same averages weighted by each class's images.</summary>
    public (double Precision, double Recall, double F1) Weighted { get; }

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

    /// <summary>
    /// The console form: accuracy and loss, a per-class table in percent with the macro and weighted averages, then
    /// the confusion matrix.
    /// </summary>
    public void WriteTable(TextWriter writer)
    {
        var width = Math.Max(8, ClassNames.Max(n => n.Length));
        var loss = double.IsNaN(Loss) ? "" : $", mean loss {Format(Loss, "F4")} (cross-entropy)";
        writer.WriteLine($"Accuracy on {Count:N0} images: {Format(Accuracy, "F2")} % ({Correct:N0} correct){loss}");
        writer.WriteLine();
        writer.WriteLine($"{"class".PadRight(width)}  precision %  recall %    F1 %  images");
        for (var c = 0; c < ClassNames.Count; c++)
            Row(ClassNames[c], Precision[c], Recall[c], F1[c], Support[c]);
        Row("macro", Macro.Precision, Macro.Recall, Macro.F1, Count);
        Row("weighted", Weighted.Precision, Weighted.Recall, Weighted.F1, Count);
        writer.WriteLine();
        writer.WriteLine("Confusion matrix (rows: true class, columns: predicted class):");
        var cell = Math.Max(5, Confusion.Max(r => r.Max()).ToString(CultureInfo.InvariantCulture).Length + 1);
        writer.WriteLine(new string(' ', width) +
            string.Concat(ClassNames.Select((n, c) => Short(n, c).PadLeft(cell))));
        for (var t = 0; t < ClassNames.Count; t++)
            writer.WriteLine(ClassNames[t].PadRight(width) +
                string.Concat(Confusion[t].Select(v => v.ToString(CultureInfo.InvariantCulture).PadLeft(cell))));

        void Row(string name, double? precision, double? recall, double? f1, int images) => writer.WriteLine(
            $"{name.PadRight(width)}  {Percent(precision),11}  {Percent(recall),8}  {Percent(f1),6}  {images,6:N0}");
        string Short(string name, int c) => name.Length < cell ? name : c.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The JSON form, every rate a fraction: {model, images, correct, accuracy, loss, classes: [{label, name,
    /// precision, recall, f1, images}], macro and weighted: {precision, recall, f1}, confusion}; null where a rate is
    /// undefined.
    /// </summary>
    public string ToJson(string? model = null) => JsonSerializer.Serialize(new
    {
        model, images = Count, correct = Correct, accuracy = Number((double)Correct / Count), loss = Number(Loss),
        classes = ClassNames.Select((name, c) =>
            new { label = c, name, precision = Precision[c], recall = Recall[c], f1 = F1[c], images = Support[c] }),
        macro = Averages(Macro),
        weighted = Averages(Weighted),
        confusion = Confusion,
    }, new JsonSerializerOptions { WriteIndented = true });

    private static object Averages((double Precision, double Recall, double F1) average) => new
    {
        precision = Number(average.Precision), recall = Number(average.Recall), f1 = Number(average.F1),
    };

    // JSON has no NaN: an undefined mean (no images, a loss not computed) is null.
    private static double? Number(double value) => double.IsNaN(value) ? null : value;
    private static string Percent(double? value) => value is { } v ? Format(100 * v, "F2") : "–";
    private static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
