using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

public sealed class MnistPreprocessingTests
{
    /// <summary>
    /// The textbook half-pixel bilinear resize, one output pixel at a time, written from the PyTorch
    /// formula rather than from the library; float, in PyTorch's operation order.
    /// </summary>
    private static float[] ResizeByDefinition(byte[] pixels, int count, int inputSize, int outputSize, float mean,
        float std)
    {
        var result = new float[count * outputSize * outputSize];
        float scale = (float)inputSize / outputSize;
        (int, int, float, float) Taps(int o)
        {
            float source = scale * (o + 0.5f) - 0.5f;
            if (source < 0)
                source = 0;
            int low = (int)MathF.Floor(source);
            int high = Math.Min(low + 1, inputSize - 1);
            float highWeight = source - low;
            return (low, high, 1 - highWeight, highWeight);
        }
        for (int n = 0; n < count; n++)
        {
            float Pixel(int y, int x) => pixels[n * inputSize * inputSize + y * inputSize + x] / 255f;
            for (int oy = 0; oy < outputSize; oy++)
            {
                var (y0, y1, wy0, wy1) = Taps(oy);
                for (int ox = 0; ox < outputSize; ox++)
                {
                    var (x0, x1, wx0, wx1) = Taps(ox);
                    float top = Pixel(y0, x0) * wx0 + Pixel(y0, x1) * wx1;
                    float bottom = Pixel(y1, x0) * wx0 + Pixel(y1, x1) * wx1;
                    result[(n * outputSize + oy) * outputSize + ox] = (top * wy0 + bottom * wy1 - mean) / std;
                }
            }
        }
        return result;
    }

    [Theory]
    [InlineData(28, 32)]
    [InlineData(28, 28)]
    [InlineData(5, 17)]
    [InlineData(32, 28)]
    public void ResizeMatchesTheDefinitionExactly(int inputSize, int outputSize)
    {
        const int count = 300; // more than one parallel chunk
        byte[] pixels = IdxBytes.RandomBytes(count * inputSize * inputSize, seed: inputSize * 100 + outputSize);
        float[] expected = ResizeByDefinition(pixels, count, inputSize, outputSize, 0.1307f, 0.3081f);

        float[] parallel = MnistPreprocessing.Preprocess(pixels, count, inputSize, outputSize, 0.1307f, 0.3081f);
        var serial = new float[expected.Length];
        MnistPreprocessing.Preprocess(pixels, count, inputSize, outputSize, 0.1307f, 0.3081f, serial);

        Assert.Equal(expected, parallel);
        Assert.Equal(expected, serial);
    }

    [Fact]
    public void ResizeAgreesWithDoublePrecisionInterpolation()
    {
        byte[] pixels = IdxBytes.RandomBytes(28 * 28, seed: 5);
        float[] actual = MnistPreprocessing.Preprocess(pixels, 1, 28, 32, mean: 0, std: 1);
        for (int oy = 0; oy < 32; oy++)
            for (int ox = 0; ox < 32; ox++)
            {
                double sy = Math.Max((oy + 0.5) * 28 / 32 - 0.5, 0), sx = Math.Max((ox + 0.5) * 28 / 32 - 0.5, 0);
                int y0 = (int)sy, x0 = (int)sx, y1 = Math.Min(y0 + 1, 27), x1 = Math.Min(x0 + 1, 27);
                double fy = sy - y0, fx = sx - x0;
                double P(int y, int x) => pixels[y * 28 + x] / 255.0;
                double expected = (1 - fy) * ((1 - fx) * P(y0, x0) + fx * P(y0, x1)) +
                    fy * ((1 - fx) * P(y1, x0) + fx * P(y1, x1));
                Assert.Equal(expected, actual[oy * 32 + ox], 1e-6);
            }
    }

    [Fact]
    public void ConstantImageStaysConstant()
    {
        byte[] pixels = Enumerable.Repeat((byte)200, 28 * 28).ToArray();
        float[] result = MnistPreprocessing.Preprocess(pixels, 1, 28, 32, mean: 0, std: 1);
        Assert.All(result, value => Assert.Equal(200 / 255f, value, 1e-6f));
    }

    [Fact]
    public void NormalisationUsesTheGivenMeanAndStd()
    {
        byte[] pixels = IdxBytes.RandomBytes(2 * 28 * 28, seed: 6);
        float[] result = MnistPreprocessing.Preprocess(pixels, 2, 28, 28, mean: 0.25f, std: 0.5f);
        for (int i = 0; i < pixels.Length; i++)
            Assert.Equal((pixels[i] / 255f - 0.25f) / 0.5f, result[i]);
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        byte[] pixels = new byte[28 * 28];
        Assert.Throws<ArgumentOutOfRangeException>(() => MnistPreprocessing.Preprocess(pixels, 2, 28, 32, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MnistPreprocessing.Preprocess(pixels, 1, 28, 32, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MnistPreprocessing.Preprocess(pixels, 1, 28, 0, 0, 1));
    }
}
