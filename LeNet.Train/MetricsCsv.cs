namespace LeNet.Train;

/// <summary>
/// The live log of a run, metrics.csv: a row at every log step and at every epoch's end, flushed as written, so that
/// <c>tail -f</c>, a spreadsheet or a dashboard can follow a run while it trains. A resumed run appends to it.
/// </summary>
public sealed class MetricsCsv : IDisposable
{
    public const string FileName = "metrics.csv";
    public const string Header = "kind,epoch,step,run_step,images,seconds,loss,learning_rate,train_accuracy," +
        "validation_loss,validation_accuracy,test_accuracy,images_per_second";
    private readonly string _path;
    private readonly bool _append;
    private StreamWriter? _writer;

    private MetricsCsv(string path, bool append) => (_path, _append) = (path, append);

    /// <summary>
    /// The log at <paramref name="path"/>, refusing what AtomicFile's rules refuse; it is created (or, with
    /// <paramref name="append"/>, appended to) at its first row, so a run stopped before one leaves no file.
    /// </summary>
    public static MetricsCsv Open(string path, bool append)
    {
        OutputFolder.CheckFile(path, "--output");
        return new MetricsCsv(path, append);
    }

    /// <summary>
    /// A log step's row: the step's own loss and learning rate, the images and seconds into its epoch.
    /// </summary>
    public void Step(int epoch, int step, int runStep, int images, double seconds, double loss, double rate) =>
        Write(Row("step", epoch, step, runStep, images, seconds, loss, rate, null, null, null, null,
            seconds > 0 ? images / seconds : null));

    /// <summary>An epoch's row: its mean loss, last learning rate, accuracies and throughput.</summary>
    public void Epoch(EpochMetrics e, int steps, int images) =>
        Write(Row("epoch", e.Epoch, steps, e.Epoch * steps, images, e.Seconds, e.MeanLoss, e.LearningRate,
            e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.TestAccuracy, e.ImagesPerSecond));

    private static string Row(string kind, params object?[] values) =>
        kind + "," + string.Join(",", values.Select(v => v switch
        {
            null => "",
            double d => d.ToString("G9", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString(),
        }));

    private void Write(string line)
    {
        try
        {
            if (_writer is null)
            {
                var exists = _append && File.Exists(_path) && new FileInfo(_path).Length > 0;
                var stream = new FileStream(_path, exists ? FileMode.Append : FileMode.Create, FileAccess.Write,
                    FileShare.Read);
                _writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false)) { NewLine = "\n" };
                if (!exists) _writer.WriteLine(Header);
            }
            _writer.WriteLine(line);
            _writer.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileWriteException($"Cannot write {_path} ({e.Message}); the run stopped there.", e);
        }
    }

    public void Dispose() => _writer?.Dispose();
}
