using LeNet.Kernels;
using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using static LeNet.Tests.Kernels.GradientCheck;
using CpuKernels = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// Cpu max and average pooling against the Reference kernels in double: values, argmax indices (ties and NaN included),
/// accumulation.
/// </summary>
public class PoolingTests
{
    // LeNet's two pools at batch 64, odd sizes that drop a border row or column, rows shorter than a vector,
    // a batch of 1000, and windows other than 2×2 stride 2 (overlapping and not).
    private static readonly PoolShape[] Shapes =
    [
        new(1, 1, 2, 2, 2, 2), new(3, 2, 7, 9, 2, 2), new(1, 3, 5, 33, 2, 2), new(64, 6, 28, 28, 2, 2),
        new(64, 16, 10, 10, 2, 2), new(1000, 1, 6, 11, 2, 2), new(3, 2, 9, 8, 3, 2), new(2, 2, 11, 13, 3, 3),
        new(2, 3, 5, 6, 1, 1),
    ];

    public static TheoryData<int, int> WidthsAndShapes()
    {
        var data = new TheoryData<int, int>();
        foreach (int width in new[] { 0, 256, 128 })
            for (int s = 0; s < Shapes.Length; s++)
                data.Add(width, s);
        return data;
    }

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void MaxPool_matches_reference_on_distinct_values(int width, int shapeIndex) => AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var rng = new Random(9200 + shapeIndex);
        var input = ToFloat(Distinct(rng, shape.InputLength));
        AssertMaxPoolMatches(input, shape, "distinct values");
    });

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void MaxPool_resolves_ties_and_NaN_like_reference(int width, int shapeIndex) => AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var rng = new Random(9300 + shapeIndex);
        // Three levels make ties in most windows; a few NaN must win their windows (the last NaN, as the Reference
        // scans).
        var input = new float[shape.InputLength];
        for (int i = 0; i < input.Length; i++)
            input[i] = rng.Next(50) == 0 ? float.NaN : rng.Next(3) - 1;
        AssertMaxPoolMatches(input, shape, "ties and NaN");
    });

    private static void AssertMaxPoolMatches(float[] input, PoolShape shape, string what)
    {
        var output = new float[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        CpuKernels.MaxPool2d.Forward(input, output, argmax, shape);
        var expected = new double[shape.OutputLength];
        var expectedArgmax = new int[shape.OutputLength];
        Ref.MaxPool2d.Forward<double>(Exactly(input), expected, expectedArgmax, shape);
        Assert.Equal(expectedArgmax, argmax);
        Assert.Equal(expected, Exactly(output)); // a maximum is one of the inputs: exact
    }

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void MaxPool_backward_accumulates_like_reference(int width, int shapeIndex) => AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var rng = new Random(9400 + shapeIndex);
        var input = ToFloat(Distinct(rng, shape.InputLength));
        var output = new float[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        CpuKernels.MaxPool2d.Forward(input, output, argmax, shape);

        var outputGrad = UniformFloat(rng, shape.OutputLength);
        var inputGrad = UniformFloat(rng, shape.InputLength);
        var expected = Exactly(inputGrad);
        CpuKernels.MaxPool2d.Backward(outputGrad, argmax, inputGrad, shape);
        Ref.MaxPool2d.Backward<double>(Exactly(outputGrad), argmax, expected, shape);
        AssertAgrees(expected, inputGrad, $"max-pool backward {shape}");
    });

    [Fact]
    public void MaxPool_backward_rejects_an_argmax_outside_its_plane()
    {
        var shape = new PoolShape(2, 1, 4, 4, 2, 2);
        var argmax = new int[shape.OutputLength];
        argmax[0] = 16; // plane 1's first element, for an output of plane 0
        Assert.Throws<ArgumentException>(() =>
            CpuKernels.MaxPool2d.Backward(new float[shape.OutputLength], argmax, new float[shape.InputLength], shape));
    }

    [Theory]
    [MemberData(nameof(WidthsAndShapes))]
    public void AvgPool_forward_and_accumulating_backward_agree_with_reference(int width, int shapeIndex) =>
        AtWidth(width, () =>
    {
        var shape = Shapes[shapeIndex];
        var rng = new Random(9500 + shapeIndex);
        var input = UniformFloat(rng, shape.InputLength);
        var output = new float[shape.OutputLength];
        CpuKernels.AvgPool2d.Forward(input, output, shape);
        var expected = new double[shape.OutputLength];
        Ref.AvgPool2d.Forward<double>(Exactly(input), expected, shape);
        AssertAgrees(expected, output, $"avg-pool forward {shape}");

        var outputGrad = UniformFloat(rng, shape.OutputLength);
        var inputGrad = UniformFloat(rng, shape.InputLength);
        var expectedGrad = Exactly(inputGrad);
        CpuKernels.AvgPool2d.Backward(outputGrad, inputGrad, shape);
        Ref.AvgPool2d.Backward<double>(Exactly(outputGrad), expectedGrad, shape);
        AssertAgrees(expectedGrad, inputGrad, $"avg-pool backward {shape}");
    });

    [Fact]
    public void Invalid_shapes_and_lengths_are_rejected()
    {
        var shape = new PoolShape(1, 1, 4, 4, 2, 2);
        Assert.Throws<ArgumentException>(() =>
            CpuKernels.MaxPool2d.Forward(new float[15], new float[4], new int[4], shape));
        Assert.Throws<ArgumentException>(() => CpuKernels.AvgPool2d.Forward(new float[16], new float[3], shape));
        Assert.Throws<ArgumentException>(() =>
            CpuKernels.MaxPool2d.Forward(new float[16], new float[4], new int[4], shape with { Kernel = 5 }));
    }
}

/// <summary>Pooling gives bit-identical results for any worker thread count.</summary>
[Collection(ElementwiseThreadCountCollection.Name)]
public class PoolingThreadCountTests
{
    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var shape = new PoolShape(1000, 6, 28, 28, 2, 2); // evaluation size: split across workers
        var rng = new Random(9600);
        var input = UniformFloat(rng, shape.InputLength);
        var outputGrad = UniformFloat(rng, shape.OutputLength);
        (float[], int[], float[], float[]) Run(int threads)
        {
            var output = new float[shape.OutputLength];
            var argmax = new int[shape.OutputLength];
            var inputGrad = new float[shape.InputLength];
            var average = new float[shape.OutputLength];
            WithThreads(threads, () =>
            {
                CpuKernels.MaxPool2d.Forward(input, output, argmax, shape);
                CpuKernels.MaxPool2d.Backward(outputGrad, argmax, inputGrad, shape);
                CpuKernels.AvgPool2d.Forward(input, average, shape);
            });
            return (output, argmax, inputGrad, average);
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Item1, two.Item1);
        Assert.Equal(one.Item2, two.Item2);
        Assert.Equal(one.Item3, two.Item3);
        Assert.Equal(one.Item4, two.Item4);
    }
}

/// <summary>The TensorPrimitives max pooling (a benchmark baseline) against the Reference kernel in double.</summary>
public class PrimitivesMaxPool2dTests
{
    [Theory]
    [InlineData(3, 2, 7, 9, 2, 2)]
    [InlineData(64, 16, 10, 10, 2, 2)]
    [InlineData(2, 2, 11, 13, 3, 3)]
    [InlineData(3, 2, 9, 8, 3, 2)]
    public void Forward_and_accumulating_backward_agree_with_reference(int batch, int channels, int height, int width,
        int kernel, int stride)
    {
        var shape = new PoolShape(batch, channels, height, width, kernel, stride);
        var rng = new Random(11_100 + height);
        // Ties included (three levels): the first maximum in row-major order must win, as in the Reference.
        var input = new float[shape.InputLength];
        for (int i = 0; i < input.Length; i++)
            input[i] = rng.Next(3) + (rng.Next(4) == 0 ? 0 : (float)rng.NextDouble());
        var output = new float[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        LeNet.Benchmarks.Primitives.MaxPool2d.Forward(input, output, argmax, shape);
        var expected = new double[shape.OutputLength];
        var expectedArgmax = new int[shape.OutputLength];
        LeNet.Kernels.Reference.MaxPool2d.Forward<double>(Exactly(input), expected, expectedArgmax, shape);
        Assert.Equal(expectedArgmax, argmax);
        Assert.Equal(expected, Exactly(output));

        var outputGrad = UniformFloat(rng, shape.OutputLength);
        var inputGrad = UniformFloat(rng, shape.InputLength);
        var expectedGrad = Exactly(inputGrad);
        LeNet.Benchmarks.Primitives.MaxPool2d.Backward(outputGrad, argmax, inputGrad, shape);
        LeNet.Kernels.Reference.MaxPool2d.Backward<double>(Exactly(outputGrad), argmax, expectedGrad, shape);
        AssertAgrees(expectedGrad, inputGrad, "max-pool backward");
    }
}
