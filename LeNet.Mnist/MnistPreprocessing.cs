namespace LeNet.Mnist;

/// <summary>
/// uint8 images [N, S, S] → float32 [N, 1, O, O]: x / 255, bilinear resize S → O exactly as
/// <c>torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)</c>,
/// then (x − mean) / std — the reference article's pipeline, so that inputs match it bit for bit.
/// </summary>
public static class MnistPreprocessing
{
    /// <summary>LeNet-5 takes 32×32 inputs; MNIST digits are 28×28.</summary>
    public const int DefaultImageSize = 32;

    // The reference article's normalisation constants: separate ones for the test set, as it used.
    public const float TrainMean = 0.1307f;
    public const float TrainStd = 0.3081f;
    public const float TestMean = 0.1325f;
    public const float TestStd = 0.3105f;

    /// <summary>
    /// Preprocesses <paramref name="count"/> square images of <paramref name="inputSize"/>² bytes each
    /// into a new array of <paramref name="count"/> · <paramref name="outputSize"/>² floats, using all cores.
    /// </summary>
    public static float[] Preprocess(byte[] pixels, int count, int inputSize, int outputSize, float mean, float std)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        Validate(pixels.Length, count, inputSize, outputSize, mean, std);
        int inputLength = inputSize * inputSize, outputLength = outputSize * outputSize;
        var result = new float[(long)count * outputLength];
        var plan = new ResizePlan(inputSize, outputSize);
        // Chunks of images rather than single ones: one small scratch row buffer per chunk, and
        // enough work per task to amortise scheduling.
        const int chunk = 256;
        Parallel.For(0, (count + chunk - 1) / chunk, c =>
        {
            int first = c * chunk, n = Math.Min(chunk, count - first);
            Run(pixels.AsSpan(first * inputLength, n * inputLength), n, plan, mean, std,
                result.AsSpan(first * outputLength, n * outputLength));
        });
        return result;
    }

    /// <summary>
    /// Single-threaded form of <see cref="Preprocess(byte[], int, int, int, float, float)"/> into a caller's buffer.
    /// </summary>
    public static void Preprocess(ReadOnlySpan<byte> pixels, int count, int inputSize, int outputSize, float mean,
        float std, Span<float> destination)
    {
        Validate(pixels.Length, count, inputSize, outputSize, mean, std);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length,
            count * outputSize * outputSize, nameof(destination));
        Run(pixels, count, new ResizePlan(inputSize, outputSize), mean, std, destination);
    }

    private static void Validate(int pixelsLength, int count, int inputSize, int outputSize, float mean, float std)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)count * outputSize * outputSize,
            Array.MaxLength, nameof(count));
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelsLength, count * inputSize * inputSize, "pixels.Length");
        if (!float.IsFinite(mean))
            throw new ArgumentOutOfRangeException(nameof(mean), mean, "The mean must be finite.");
        if (!float.IsFinite(std) || std <= 0)
            throw new ArgumentOutOfRangeException(nameof(std), std,
                "The standard deviation must be positive and finite.");
    }

    private static void Run(ReadOnlySpan<byte> pixels, int count, ResizePlan plan, float mean, float std,
        Span<float> destination)
    {
        int inputSize = plan.InputSize, outputSize = plan.OutputSize;
        int inputLength = inputSize * inputSize, outputLength = outputSize * outputSize;
        // Rows resized horizontally: [inputSize, outputSize]. PyTorch evaluates
        // h0 · (w0 · a + w1 · b) + h1 · (w0 · c + w1 · d), so interpolating each source row once and
        // then blending rows performs the very same float operations in the same order.
        Span<float> rows = inputSize * outputSize <= 4096 ? stackalloc float[inputSize * outputSize]
            : new float[inputSize * outputSize];
        for (int image = 0; image < count; image++)
        {
            ReadOnlySpan<byte> source = pixels.Slice(image * inputLength, inputLength);
            Span<float> target = destination.Slice(image * outputLength, outputLength);
            for (int y = 0; y < inputSize; y++)
            {
                ReadOnlySpan<byte> sourceRow = source.Slice(y * inputSize, inputSize);
                Span<float> row = rows.Slice(y * outputSize, outputSize);
                for (int x = 0; x < outputSize; x++)
                {
                    // Division, not multiplication by 1/255: torchvision's ToTensor divides.
                    float left = sourceRow[plan.Index0[x]] / 255f, right = sourceRow[plan.Index1[x]] / 255f;
                    row[x] = left * plan.Weight0[x] + right * plan.Weight1[x];
                }
            }
            for (int y = 0; y < outputSize; y++)
            {
                ReadOnlySpan<float> top = rows.Slice(plan.Index0[y] * outputSize, outputSize);
                ReadOnlySpan<float> bottom = rows.Slice(plan.Index1[y] * outputSize, outputSize);
                float topWeight = plan.Weight0[y], bottomWeight = plan.Weight1[y];
                Span<float> targetRow = target.Slice(y * outputSize, outputSize);
                for (int x = 0; x < outputSize; x++)
                    targetRow[x] = (top[x] * topWeight + bottom[x] * bottomWeight - mean) / std;
            }
        }
    }

    /// <summary>
    /// Source indices and weights for each output coordinate, as PyTorch computes them in float:
    /// source = max(scale · (o + 0.5) − 0.5, 0) with scale = in / out; index0 = ⌊source⌋,
    /// index1 = index0 + 1 clamped to the last pixel, weight1 = source − index0, weight0 = 1 − weight1.
    /// </summary>
    private sealed class ResizePlan
    {
        public ResizePlan(int inputSize, int outputSize)
        {
            InputSize = inputSize;
            OutputSize = outputSize;
            Index0 = new int[outputSize];
            Index1 = new int[outputSize];
            Weight0 = new float[outputSize];
            Weight1 = new float[outputSize];
            float scale = (float)inputSize / outputSize;
            for (int o = 0; o < outputSize; o++)
            {
                float source = Math.Max(scale * (o + 0.5f) - 0.5f, 0f);
                int index = Math.Min((int)source, inputSize - 1);
                Index0[o] = index;
                Index1[o] = index < inputSize - 1 ? index + 1 : index;
                Weight1[o] = Math.Clamp(source - index, 0f, 1f);
                Weight0[o] = 1f - Weight1[o];
            }
        }

        public int InputSize { get; }
        public int OutputSize { get; }
        public int[] Index0 { get; }
        public int[] Index1 { get; }
        public float[] Weight0 { get; }
        public float[] Weight1 { get; }
    }
}
