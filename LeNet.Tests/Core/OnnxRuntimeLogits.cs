using LeNet.Core.Serialization.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace LeNet.Tests.Core;

/// <summary>
/// ONNX Runtime (CPU) as the independent judge of an exported file, and the measure its logits are compared by.
/// </summary>
internal static class OnnxRuntimeLogits
{
    /// <summary>
    /// The logits ONNX Runtime computes for <paramref name="count"/> images [count, C, H, W] laid out one after
    /// another.
    /// </summary>
    public static float[] Run(InferenceSession session, ReadOnlyMemory<float> images, int count, int channels = 1,
        int height = 32, int width = 32)
    {
        Assert.Equal(count * channels * height * width, images.Length);
        // ORT only reads the input; it takes a Memory<float> because the same call also serves outputs.
        var memory = System.Runtime.InteropServices.MemoryMarshal.AsMemory(images);
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, memory,
            [count, channels, height, width]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, [OnnxExporter.InputName], [input], [OnnxExporter.OutputName]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        Assert.Equal(2, shape.Length);
        Assert.Equal(count, shape[0]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>
    /// The worst image's relative difference: for each image, max over its classes of |ours − theirs| divided by
    /// max over its classes of |ours|; the largest of these over all images.
    /// </summary>
    public static double MaxRelativeDifference(float[] ours, float[] theirs, int classes)
    {
        Assert.Equal(ours.Length, theirs.Length);
        double worst = 0;
        for (var image = 0; image < ours.Length / classes; image++)
        {
            double difference = 0, scale = 0;
            for (var c = image * classes; c < (image + 1) * classes; c++)
            {
                difference = Math.Max(difference, Math.Abs((double)ours[c] - theirs[c]));
                scale = Math.Max(scale, Math.Abs((double)ours[c]));
            }
            // A NaN anywhere fails the comparison; all-zero logits on both sides agree.
            var relative = double.IsNaN(difference) || double.IsNaN(scale) ? double.PositiveInfinity
                : difference == 0 ? 0 : difference / scale;
            worst = Math.Max(worst, relative);
        }
        return worst;
    }

    /// <summary>The predicted class of each image: the index of its largest logit.</summary>
    public static int[] Predictions(float[] logits, int classes) =>
        Enumerable.Range(0, logits.Length / classes)
            .Select(image => LeNet.Train.Evaluation.ArgMax(logits.AsSpan(image * classes, classes))).ToArray();
}
