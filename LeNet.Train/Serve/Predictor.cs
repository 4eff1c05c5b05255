using System.Runtime.InteropServices;
using LeNet.Core.Autograd;
using LeNet.Core.Files;
using LeNet.Core.Modules;
using LeNet.Kernels.Cpu;
using LeNet.Train.Images;

namespace LeNet.Train.Serve;

/// <summary>One image's answer on the web: predict --json's fields, and the 28×28 the model saw (base64) when asked.</summary>
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

    /// <summary>Predicts every image; one that cannot be read is answered with its error, the others still are.</summary>
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

    /// <summary>Softmax of the model's logits for MNIST-form digits, preprocessed as the test set is, in one batch.</summary>
    public float[][] Probabilities(IReadOnlyList<byte[]> digits)
    {
        var size = MnistPreprocessing.DefaultImageSize;
        var input = new float[digits.Count * size * size];
        for (var i = 0; i < digits.Count; i++)
            MnistPreprocessing.Preprocess(digits[i], 1, MnistStyle.Size, size, MnistPreprocessing.TestMean,
                MnistPreprocessing.TestStd, input.AsSpan(i * size * size, size * size));
        float[] logits;
        lock (_gate) logits = Forward(input, digits.Count);
        var classes = logits.Length / digits.Count;
        return Enumerable.Range(0, digits.Count).Select(i => Softmax(logits.AsSpan(i * classes, classes))).ToArray();
    }

    /// <summary>Replaces the weights and running statistics (same names and shapes) between two batches.</summary>
    public void Load(IReadOnlyDictionary<string, (int[] Shape, float[] Values)> state)
    {
        lock (_gate) model.LoadStateDict(state);
    }

    /// <summary>The logits of <paramref name="count"/> preprocessed images; the caller holds <see cref="_gate"/>.</summary>
    private unsafe float[] Forward(float[] input, int count)
    {
        var pass = new ForwardPass(model, input, count);
        var handle = GCHandle.Alloc(pass);
        // The pass runs as the one part of a kernel loop, so that every loop inside it runs on this thread (the rule
        // of Workers.Run for nested calls). Split over the kernels' worker thread, a pass of one image gains nothing,
        // and that thread then spins for milliseconds waiting for the next loop: under load it took half the
        // server's CPU from the requests (benchmarks/serve.md). During training it also leaves the workers to the
        // training steps.
        try { Workers.Run(1, (void*)GCHandle.ToIntPtr(handle), &ForwardPass.Run); }
        finally { handle.Free(); }
        return pass.Logits!;
    }

    private sealed class ForwardPass(Module model, float[] input, int count)
    {
        public float[]? Logits;

        public static unsafe void Run(void* state, int part) =>
            ((ForwardPass)GCHandle.FromIntPtr((nint)state).Target!).Run();

        private void Run()
        {
            var size = MnistPreprocessing.DefaultImageSize;
            model.Eval();
            using (GradientTape.NoGrad())
                Logits = model.Forward(Tensor.FromArray(input, count, 1, size, size)).ToArray();
        }
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
