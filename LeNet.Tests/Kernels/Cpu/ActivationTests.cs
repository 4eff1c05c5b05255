using static LeNet.Tests.Kernels.Cpu.ElementwiseTestSupport;
using CpuKernels = LeNet.Kernels.Cpu;
using Ref = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cpu;

/// <summary>
/// Cpu ReLU, Tanh and Sigmoid against the Reference kernels in double, at every SIMD width, odd lengths and the
/// parallel size.
/// </summary>
public class ActivationTests
{
    // Not multiples of any vector width, around the chunk size, and LeNet's [64, 6, 28, 28] (split across workers).
    private static readonly int[] Lengths = [1, 3, 17, 1000, 7_681, 64 * 120, 64 * 6 * 28 * 28 + 5,
        (1 << 20) + 16 * 1024 + 5];

    public static TheoryData<int, string> WidthsAndOps()
    {
        var data = new TheoryData<int, string>();
        foreach (int width in new[] { 0, 256, 128 })
            foreach (string op in new[] { "ReLU", "Tanh", "Sigmoid" })
                data.Add(width, op);
        return data;
    }

    private static void CpuForward(string op, float[] x, float[] y)
    {
        switch (op)
        {
            case "ReLU": CpuKernels.ReLU.Forward(x, y); break;
            case "Tanh": CpuKernels.Tanh.Forward(x, y); break;
            default: CpuKernels.Sigmoid.Forward(x, y); break;
        }
    }

    private static void ReferenceForward(string op, double[] x, double[] y)
    {
        switch (op)
        {
            case "ReLU": Ref.ReLU.Forward<double>(x, y); break;
            case "Tanh": Ref.Tanh.Forward<double>(x, y); break;
            default: Ref.Sigmoid.Forward<double>(x, y); break;
        }
    }

    /// <summary>ReLU's backward takes the forward input; Tanh's and Sigmoid's take the forward output.</summary>
    private static void CpuBackward(string op, float[] saved, float[] dy, float[] dx)
    {
        switch (op)
        {
            case "ReLU": CpuKernels.ReLU.Backward(saved, dy, dx); break;
            case "Tanh": CpuKernels.Tanh.Backward(saved, dy, dx); break;
            default: CpuKernels.Sigmoid.Backward(saved, dy, dx); break;
        }
    }

    private static void ReferenceBackward(string op, double[] saved, double[] dy, double[] dx)
    {
        switch (op)
        {
            case "ReLU": Ref.ReLU.Backward<double>(saved, dy, dx); break;
            case "Tanh": Ref.Tanh.Backward<double>(saved, dy, dx); break;
            default: Ref.Sigmoid.Backward<double>(saved, dy, dx); break;
        }
    }

    /// <summary>The elementwise check's absolute floor: tanh goes through exp (<see cref="FewUlpsOfOne"/>).</summary>
    private static double Floor(string op) => op == "Tanh" ? FewUlpsOfOne : SmallestNormalFloat;

    [Theory]
    [MemberData(nameof(WidthsAndOps))]
    public void Forward_and_accumulating_backward_agree_with_reference(int width, string op) => AtWidth(width, () =>
    {
        var rng = new Random(9100 + width + op.Length);
        foreach (int length in Lengths)
        {
            var x = UniformFloat(rng, length, -4, 4);
            x[0] = Math.Abs(x[0]); // one positive input at least, so that ReLU's expected output is not all zero
            var y = new float[length];
            CpuForward(op, x, y);
            var expectedY = new double[length];
            ReferenceForward(op, Exactly(x), expectedY);
            AssertAgreesElementwise(expectedY, y, $"{op} forward, length {length}", Floor(op));

            // Backward from the saved tensor the kernel expects, into a gradient buffer that already holds values.
            var saved = op == "ReLU" ? x : y;
            var dy = UniformFloat(rng, length);
            var dx = UniformFloat(rng, length);
            var expectedDx = Exactly(dx);
            CpuBackward(op, saved, dy, dx);
            ReferenceBackward(op, Exactly(saved), Exactly(dy), expectedDx);
            AssertAgrees(expectedDx, dx, $"{op} backward (accumulating), length {length}");
        }
    });

    [Theory]
    [MemberData(nameof(Widths), MemberType = typeof(ElementwiseTestSupport))]
    public void ReLU_propagates_NaN_and_passes_no_gradient_at_zero_or_NaN(int width) => AtWidth(width, () =>
    {
        float[] x = [1, float.NaN, -2, 0, float.NegativeInfinity, float.PositiveInfinity, -0.5f, float.NaN, 3, 0, -1, 2,
            float.NaN, 5, -7, 0.25f, 9, float.NaN, -3];
        var y = new float[x.Length];
        CpuKernels.ReLU.Forward(x, y);
        var expected = new double[x.Length];
        Ref.ReLU.Forward<double>(Exactly(x), expected);
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(expected[i], (double)y[i]); // NaN equals NaN here; −0 and +0 are equal

        var dx = new float[x.Length];
        var dy = Enumerable.Repeat(1f, x.Length).ToArray();
        CpuKernels.ReLU.Backward(x, dy, dx);
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(x[i] > 0 ? 1f : 0f, dx[i]);
    });

    [Theory]
    [MemberData(nameof(Widths), MemberType = typeof(ElementwiseTestSupport))]
    public void Tanh_and_Sigmoid_saturate_without_overflow(int width) => AtWidth(width, () =>
    {
        float[] x = [-1000, -100, -90, -20, 20, 90, 100, 1000, 0, -0.0f, 1e-8f, -1e-8f, 88, -88, 89, -104, 104];
        foreach (string op in new[] { "Tanh", "Sigmoid" })
        {
            var y = new float[x.Length];
            CpuForward(op, x, y);
            var expected = new double[x.Length];
            ReferenceForward(op, Exactly(x), expected);
            Assert.All(y, v => Assert.True(float.IsFinite(v), $"{op} gave {v}"));
            AssertAgreesElementwise(expected, y, $"{op} at large |x|", Floor(op));
        }
    });

    [Fact]
    public void Output_may_alias_input()
    {
        var rng = new Random(9150);
        foreach (string op in new[] { "ReLU", "Tanh", "Sigmoid" })
        {
            var x = UniformFloat(rng, 1001, -3, 3);
            var separate = new float[x.Length];
            CpuForward(op, x, separate);
            CpuForward(op, x, x);
            Assert.Equal(separate, x);
        }
    }
}

/// <summary>
/// The activations give bit-identical results for any worker thread count (they are elementwise, so any split must).
/// </summary>
[Collection(ElementwiseThreadCountCollection.Name)]
public class ActivationThreadCountTests
{
    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var rng = new Random(9170);
        int length = 1000 * 6 * 28 * 28 + 3; // above the size at which passes are split across workers
        var x = UniformFloat(rng, length, -3, 3);
        var dy = UniformFloat(rng, length);
        float[] Run(int threads)
        {
            var result = new float[4 * length];
            WithThreads(threads, () =>
            {
                CpuKernels.ReLU.Forward(x, result.AsSpan(0, length));
                CpuKernels.Tanh.Forward(x, result.AsSpan(length, length));
                CpuKernels.ReLU.Backward(x, dy, result.AsSpan(2 * length, length));
                CpuKernels.Sigmoid.Backward(result.AsSpan(length, length), dy, result.AsSpan(3 * length, length));
            });
            return result;
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }
}

/// <summary>The TensorPrimitives ReLU (a benchmark baseline) against the Reference kernel in double.</summary>
public class PrimitivesReLUTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(64 * 84)]
    [InlineData(64 * 6 * 28 * 28 + 5)]
    public void Forward_and_accumulating_backward_agree_with_reference(int length)
    {
        var rng = new Random(11_200 + length);
        var x = UniformFloat(rng, length, -3, 3);
        x[0] = Math.Abs(x[0]); // one positive input at least, so that the expected output is not all zero
        var y = new float[length];
        LeNet.Benchmarks.Primitives.ReLU.Forward(x, y);
        var expected = new double[length];
        Ref.ReLU.Forward<double>(Exactly(x), expected);
        AssertAgreesElementwise(expected, y, "ReLU forward");
        var dy = UniformFloat(rng, length);
        var dx = UniformFloat(rng, length);
        var expectedDx = Exactly(dx);
        LeNet.Benchmarks.Primitives.ReLU.Backward(x, dy, dx);
        Ref.ReLU.Backward<double>(Exactly(x), Exactly(dy), expectedDx);
        AssertAgrees(expectedDx, dx, "ReLU backward");
    }
}
