using System.Runtime.Intrinsics;
using LeNet.Kernels;
using static LeNet.Tests.Kernels.GradientCheck;
using Fast = LeNet.Kernels.Cpu;
using Reference = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// The Cpu convolution at each vector width, and the TensorPrimitives one, against the Reference kernel run in double
/// on random inputs (normwise relative error &lt; 1e-4). Backward kernels start from random gradient buffers, so a
/// kernel that overwrites instead of accumulating fails.
/// </summary>
public class Conv2dTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Implementations() => ["Cpu", "Cpu512", "Cpu256", "Cpu128", "Primitives"];

    private delegate void ForwardKernel(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, in ConvShape shape);
    private delegate void BackwardInputKernel(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> weight,
        Span<float> inputGrad, in ConvShape shape);
    private delegate void BackwardWeightKernel(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad,
        Span<float> weightGrad, in ConvShape shape);
    private delegate void BackwardBiasKernel(ReadOnlySpan<float> outputGrad, Span<float> biasGrad, in ConvShape shape);

    private static ForwardKernel Forward(string implementation) => implementation switch
    {
        "Cpu" => Fast.Conv2d.Forward,
        "Cpu512" => Fast.Conv2d.Forward<Vector512<float>>,
        "Cpu256" => Fast.Conv2d.Forward<Vector256<float>>,
        "Cpu128" => Fast.Conv2d.Forward<Vector128<float>>,
        _ => LeNet.Benchmarks.Primitives.Conv2d.Forward,
    };

    private static BackwardInputKernel BackwardInput(string implementation) => implementation switch
    {
        "Cpu" => Fast.Conv2d.BackwardInput,
        "Cpu512" => Fast.Conv2d.BackwardInput<Vector512<float>>,
        "Cpu256" => Fast.Conv2d.BackwardInput<Vector256<float>>,
        "Cpu128" => Fast.Conv2d.BackwardInput<Vector128<float>>,
        _ => LeNet.Benchmarks.Primitives.Conv2d.BackwardInput,
    };

    internal static void BackwardWeight(string implementation, ReadOnlySpan<float> input,
        ReadOnlySpan<float> outputGrad, Span<float> weightGrad, in ConvShape shape)
    {
        BackwardWeightKernel kernel = implementation switch
        {
            "Cpu" => Fast.Conv2d.BackwardWeight,
            "Cpu512" => Fast.Conv2d.BackwardWeight<Vector512<float>>,
            "Cpu256" => Fast.Conv2d.BackwardWeight<Vector256<float>>,
            "Cpu128" => Fast.Conv2d.BackwardWeight<Vector128<float>>,
            _ => LeNet.Benchmarks.Primitives.Conv2d.BackwardWeight,
        };
        kernel(input, outputGrad, weightGrad, shape);
    }

    private static BackwardBiasKernel BackwardBias(string implementation) => implementation switch
    {
        "Cpu" => Fast.Conv2d.BackwardBias,
        "Cpu512" => Fast.Conv2d.BackwardBias<Vector512<float>>,
        "Cpu256" => Fast.Conv2d.BackwardBias<Vector256<float>>,
        "Cpu128" => Fast.Conv2d.BackwardBias<Vector128<float>>,
        _ => LeNet.Benchmarks.Primitives.Conv2d.BackwardBias,
    };

    internal static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();

    internal static void AssertAgrees(double[] expected, float[] actual, string what)
    {
        Assert.True(expected.Any(v => v != 0), $"{what}: the expected result is all zeros, which checks nothing.");
        double error = RelativeError(expected, actual.Select(v => (double)v).ToArray());
        Assert.True(error < Tolerance,
            $"{what}: relative error {error:E3} against the double Reference exceeds {Tolerance:E0}.");
    }

    private static void CheckAll(string implementation, ConvShape shape, int seed, bool withBias = true)
    {
        var rng = new Random(seed);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var bias = withBias ? Uniform(rng, shape.OutChannels) : [];
        var outputGrad = Uniform(rng, shape.OutputLength);
        string name = $"{implementation} {shape}";

        // Forward overwrites: the output starts as garbage.
        var output = new double[shape.OutputLength];
        Reference.Conv2d.Forward<double>(input, weight, bias, output, shape);
        var outputF = ToFloat(Uniform(rng, shape.OutputLength, 50, 60));
        Forward(implementation)(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF, shape);
        AssertAgrees(output, outputF, $"{name} forward");

        // Backward kernels accumulate onto what the buffers hold.
        var inputGrad = Uniform(rng, shape.InputLength);
        var inputGradF = ToFloat(inputGrad);
        Reference.Conv2d.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
        BackwardInput(implementation)(ToFloat(outputGrad), ToFloat(weight), inputGradF, shape);
        AssertAgrees(inputGrad, inputGradF, $"{name} backward input");

        var weightGrad = Uniform(rng, shape.WeightLength);
        var weightGradF = ToFloat(weightGrad);
        Reference.Conv2d.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        BackwardWeight(implementation, ToFloat(input), ToFloat(outputGrad), weightGradF, shape);
        AssertAgrees(weightGrad, weightGradF, $"{name} backward weight");

        var biasGrad = Uniform(rng, shape.OutChannels);
        var biasGradF = ToFloat(biasGrad);
        Reference.Conv2d.BackwardBias<double>(outputGrad, biasGrad, shape);
        BackwardBias(implementation)(ToFloat(outputGrad), biasGradF, shape);
        AssertAgrees(biasGrad, biasGradF, $"{name} backward bias");
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void LeNet_shapes_match_the_reference(string implementation)
    {
        CheckAll(implementation, new ConvShape(1, 1, 32, 32, 6, 5, 5), seed: 1);
        CheckAll(implementation, new ConvShape(3, 6, 14, 14, 16, 5, 5), seed: 2);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Odd_shapes_stride_and_padding_match_the_reference(string implementation)
    {
        CheckAll(implementation, new ConvShape(3, 3, 9, 7, 5, 3, 3, Stride: 2, Padding: 1), seed: 3);
        CheckAll(implementation, new ConvShape(2, 5, 11, 13, 7, 3, 4, Stride: 1, Padding: 1), seed: 4);
        CheckAll(implementation, new ConvShape(1, 2, 8, 8, 3, 2, 2, Stride: 3, Padding: 2), seed: 5, withBias: false);
        CheckAll(implementation, new ConvShape(9, 1, 3, 3, 13, 3, 3, Stride: 1, Padding: 0), seed: 6);
        CheckAll(implementation, new ConvShape(2, 7, 20, 19, 9, 5, 5, Stride: 1, Padding: 2), seed: 7);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Batch_of_64_at_conv2_matches_the_reference(string implementation) =>
        CheckAll(implementation, new ConvShape(64, 6, 14, 14, 16, 5, 5), seed: 8);

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Batch_of_1000_matches_the_reference(string implementation) =>
        CheckAll(implementation, new ConvShape(1000, 2, 6, 5, 3, 3, 3, Padding: 1), seed: 9);

    public static TheoryData<int, string> WidthsAndEngines()
    {
        var data = new TheoryData<int, string>();
        foreach (var width in new[] { 512, 256, 128 })
        foreach (var engine in new[] { "Auto", "Gemm", "Lanes", "Im2Col", "Rows" })
            data.Add(width, engine);
        return data;
    }

    /// <summary>
    /// Every engine of the forward pass and of the input gradient (stride-1 full correlation on the GEMM or on the
    /// lanes, and the im2col/col2im fallback) at every width, on shapes that reach their edges: more channels than two
    /// vectors of lanes, rows wider than one tile, kernels taller than wide, padding on one side only of the full
    /// correlation, padding past the kernel (where the input gradient falls back to col2im) and stride 2 (im2col).
    /// The weight gradient runs on the same shapes: Gemm forces its stride-1 engine with the output channels in rows
    /// (<see cref="Fast.ConvRows"/>: channel counts past one tile of rows, tap counts that end in tiles of 1, 2 and 3
    /// taps), the others its channels-in-lanes engine.
    /// </summary>
    [Theory]
    [MemberData(nameof(WidthsAndEngines))]
    public void Every_engine_matches_the_reference(int width, string engine)
    {
        var shapes = new[]
        {
            new ConvShape(2, 3, 9, 31, 40, 3, 3, Stride: 1, Padding: 1),
            new ConvShape(3, 5, 12, 17, 6, 5, 2, Stride: 1, Padding: 1),
            new ConvShape(2, 2, 7, 6, 3, 2, 2, Stride: 1, Padding: 3),
            new ConvShape(2, 4, 11, 10, 17, 3, 3, Stride: 2, Padding: 1),
            new ConvShape(3, 6, 14, 14, 16, 5, 5),
        };
        var forced = Enum.Parse<Fast.Conv2d.Engine>(engine);
        for (int i = 0; i < shapes.Length; i++)
        {
            var shape = shapes[i];
            var rng = new Random(100 + i);
            var input = Uniform(rng, shape.InputLength);
            var weight = Uniform(rng, shape.WeightLength);
            var bias = Uniform(rng, shape.OutChannels);
            var outputGrad = Uniform(rng, shape.OutputLength);
            string name = $"{width}-bit {engine} {shape}";

            var output = new double[shape.OutputLength];
            Reference.Conv2d.Forward<double>(input, weight, bias, output, shape);
            var outputF = ToFloat(Uniform(rng, shape.OutputLength, 50, 60));
            var inputGrad = Uniform(rng, shape.InputLength);
            var inputGradF = ToFloat(inputGrad);
            Reference.Conv2d.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
            var weightGrad = Uniform(rng, shape.WeightLength);
            var weightGradF = ToFloat(weightGrad);
            Reference.Conv2d.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
            switch (width)
            {
                case 512:
                    Fast.Conv2d.Forward<Vector512<float>>(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF,
                        shape, forced);
                    Fast.Conv2d.BackwardInput<Vector512<float>>(ToFloat(outputGrad), ToFloat(weight), inputGradF, shape,
                        forced);
                    Fast.Conv2d.BackwardWeight<Vector512<float>>(ToFloat(input), ToFloat(outputGrad), weightGradF,
                        shape, forced);
                    break;
                case 256:
                    Fast.Conv2d.Forward<Vector256<float>>(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF,
                        shape, forced);
                    Fast.Conv2d.BackwardInput<Vector256<float>>(ToFloat(outputGrad), ToFloat(weight), inputGradF, shape,
                        forced);
                    Fast.Conv2d.BackwardWeight<Vector256<float>>(ToFloat(input), ToFloat(outputGrad), weightGradF,
                        shape, forced);
                    break;
                default:
                    Fast.Conv2d.Forward<Vector128<float>>(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF,
                        shape, forced);
                    Fast.Conv2d.BackwardInput<Vector128<float>>(ToFloat(outputGrad), ToFloat(weight), inputGradF, shape,
                        forced);
                    Fast.Conv2d.BackwardWeight<Vector128<float>>(ToFloat(input), ToFloat(outputGrad), weightGradF,
                        shape, forced);
                    break;
            }
            AssertAgrees(output, outputF, $"{name} forward");
            AssertAgrees(inputGrad, inputGradF, $"{name} backward input");
            AssertAgrees(weightGrad, weightGradF, $"{name} backward weight");
        }
    }

    /// <summary>
    /// A thread keeps its zero-padded image's zeros from one image to the next while the geometry stays the same: a
    /// second geometry whose image covers the first one's border must make the first clear its buffer again when it
    /// comes back. Everything on the calling thread, so each call reuses the buffer of the one before.
    /// </summary>
    [Theory]
    [InlineData("Gemm")]
    [InlineData("Rows")]
    [InlineData("Lanes")]
    public void A_padded_image_buffer_reused_across_calls_and_geometries_keeps_each_result_exact(string engine) =>
        Fast.Workers.OnThisThread(() =>
        {
            var first = new ConvShape(2, 2, 6, 6, 3, 3, 3, Padding: 2);
            var second = new ConvShape(2, 2, 8, 8, 3, 3, 3, Padding: 1);
            var forced = Enum.Parse<Fast.Conv2d.Engine>(engine);
            int seed = 0;
            foreach (var shape in new[] { first, first, second, first })
            {
                var rng = new Random(500 + seed++);
                // Inputs far from zero, so that a stale value where a zero belongs cannot hide in the tolerance.
                var input = Uniform(rng, shape.InputLength, 5, 9);
                var weight = Uniform(rng, shape.WeightLength);
                var bias = Uniform(rng, shape.OutChannels);
                var output = new double[shape.OutputLength];
                Reference.Conv2d.Forward<double>(input, weight, bias, output, shape);
                var outputF = new float[shape.OutputLength];
                Fast.Conv2d.Forward<Vector256<float>>(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF, shape,
                    forced);
                AssertAgrees(output, outputF, $"{engine} {shape}, call {seed}");
            }
        });
}
