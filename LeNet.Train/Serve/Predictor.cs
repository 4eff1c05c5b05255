using LeNet.Core.Autograd;
using LeNet.Core.Files;
using LeNet.Core.Modules;
using LeNet.Core.Backends;
using LeNet.Train.Images;

namespace LeNet.Train.Serve;

/// <summary>
/// One image's answer on the web: predict --json's fields, and the 28×28 the model saw (base64) when asked.
/// </summary>
public sealed record WebPrediction(string Image, int? Label, string? Name, float[]? Probabilities, string? Error,
    byte[]? Seen = null);

/// <summary>
/// A model answering web requests: images are decoded and converted in parallel on the callers' threads, the forward
/// pass runs one batch at a time under a lock (a model's buffers are not for two threads at once), on the caller's
/// thread alone, and the weights can be replaced between two batches (the live page during training).
/// </summary>
public sealed class Predictor(Module model, IReadOnlyList<string> classNames, double maxMegapixels)
{
    private readonly object _gate = new();

    public IReadOnlyList<string> ClassNames => classNames;
    public double MaxMegapixels => maxMegapixels;

    /// <summary>
    /// Predicts every image; one that cannot be read is answered with its error, the others still are.
    /// </summary>
    public WebPrediction[] Predict(IReadOnlyList<(string Name, byte[] Bytes)> images, bool withSeen)
    {
        var digits = new byte[]?[images.Count];
        var errors = new string?[images.Count];
        for (var i = 0; i < images.Count; i++)
        {
            var shown = FileText.Escape(images[i].Name);
            try
            {
                digits[i] = MnistStyle.Convert(DigitImage.Decode(images[i].Bytes, shown, maxMegapixels,
                    "send a smaller image"), shown);
            }
            catch (ImageException e) { errors[i] = e.Message; }
        }
        var readable = digits.Where(d => d is not null).Select(d => d!).ToList();
        var probabilities = readable.Count == 0 ? [] : Probabilities(readable);
        var answers = new WebPrediction[images.Count];
        for (int i = 0, next = 0; i < images.Count; i++)
        {
            if (digits[i] is not { } digit)
            {
                answers[i] = new WebPrediction(images[i].Name, null, null, null, errors[i]);
                continue;
            }
            var p = probabilities[next++];
            var label = Evaluation.ArgMax(p);
            answers[i] = new WebPrediction(images[i].Name, label, classNames[label], p, null, withSeen ? digit : null);
        }
        return answers;
    }

    /// <summary>The probabilities of a batch of MNIST-form digits, under the lock.</summary>
    public float[][] Probabilities(IReadOnlyList<byte[]> digits)
    {
        lock (_gate) return Probabilities(model, digits);
    }

    /// <summary>
    /// Softmax of <paramref name="model"/>'s logits for 28×28 MNIST-form digits, preprocessed as the test set is, in
    /// one batch in evaluation mode (the model's mode is restored): predict's and the server's one path.
    /// </summary>
    public static float[][] Probabilities(Module model, IReadOnlyList<byte[]> digits)
    {
        var size = MnistPreprocessing.DefaultImageSize;
        var input = new float[digits.Count * size * size];
        for (var i = 0; i < digits.Count; i++)
            MnistPreprocessing.Preprocess(digits[i], 1, MnistStyle.Size, size, MnistPreprocessing.TestMean,
                MnistPreprocessing.TestStd, input.AsSpan(i * size * size, size * size));
        var wasTraining = model.Training;
        model.Eval();
        float[] logits = [];
        // On this thread alone: split over the kernels' worker thread, a pass of a few images gains nothing, and that
        // thread then spins waiting for the next loop; under load it took half the server's CPU from the requests
        // (benchmarks/serve.md). During training it also leaves the workers to the training steps.
        CpuBackend.OnThisThread(() =>
        {
            using (GradientTape.NoGrad())
                logits = model.Forward(Tensor.FromArray(input, digits.Count, 1, size, size)).ToArray();
        });
        model.Train(wasTraining);
        var classes = logits.Length / digits.Count;
        return Enumerable.Range(0, digits.Count).Select(i => Softmax(logits.AsSpan(i * classes, classes))).ToArray();
    }

    /// <summary>Replaces the weights and running statistics (same names and shapes) between two batches.</summary>
    public void Load(IReadOnlyDictionary<string, (int[] Shape, float[] Values)> state)
    {
        lock (_gate) model.LoadStateDict(state);
    }

    private static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var max = float.NegativeInfinity;
        foreach (var v in logits) max = MathF.Max(max, v);
        var result = new float[logits.Length];
        float sum = 0;
        for (var i = 0; i < logits.Length; i++) sum += result[i] = MathF.Exp(logits[i] - max);
        for (var i = 0; i < result.Length; i++) result[i] /= sum;
        return result;
    }
}
