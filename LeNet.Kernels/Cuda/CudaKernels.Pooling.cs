using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// MaxPool2d and AvgPool2d over NCHW, no padding, floor mode: forward one thread per output; backward one thread per
// input element gathering from the windows that contain it (no scatter, no atomics; overlapping windows are fine).
public sealed partial class CudaKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>,
        PoolShape> _maxPoolForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, PoolShape,
        int> _maxPoolBackward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>,
        PoolShape> _avgPoolForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, PoolShape,
        int> _avgPoolBackward = null!;

    private void LoadPooling()
    {
        _maxPoolForward = Load<ArrayView<float>, ArrayView<float>, ArrayView<int>, PoolShape>(MaxPoolForwardKernel);
        _maxPoolBackward = Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, PoolShape, int>(
            MaxPoolBackwardKernel);
        _avgPoolForward = Load<ArrayView<float>, ArrayView<float>, PoolShape>(AvgPoolForwardKernel);
        _avgPoolBackward = Load<ArrayView<float>, ArrayView<float>, PoolShape, int>(AvgPoolBackwardKernel);
    }

    /// <summary>Overwrites output [N,C,P,Q] with each window's maximum and argmax with its flat input index (first one
    /// on ties).</summary>
    public void MaxPool2dForward(ArrayView<float> input, ArrayView<float> output, ArrayView<int> argmax,
        in PoolShape shape)
    {
        ValidatePool(shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(output.Length, nameof(output)), shape.OutputLength, nameof(output), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        _maxPoolForward(Stream, StrideConfig(shape.OutputLength), input, output, argmax, shape);
    }

    /// <summary>inputGrad[argmax[o]] += outputGrad[o] for every output o (without <paramref name="accumulate"/>,
    /// inputGrad's old contents are ignored).</summary>
    public void MaxPool2dBackward(ArrayView<float> outputGrad, ArrayView<int> argmax, ArrayView<float> inputGrad,
        in PoolShape shape, bool accumulate = true)
    {
        ValidatePool(shape);
        SpanLength.Require(Checked(outputGrad.Length, nameof(outputGrad)), shape.OutputLength,
            nameof(outputGrad), shape);
        SpanLength.Require(Checked(argmax.Length, nameof(argmax)), shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength, nameof(inputGrad), shape);
        _maxPoolBackward(Stream, StrideConfig(shape.InputLength), outputGrad, argmax, inputGrad, shape,
            accumulate ? 1 : 0);
    }

    /// <summary>Overwrites output [N,C,P,Q] with each window's mean.</summary>
    public void AvgPool2dForward(ArrayView<float> input, ArrayView<float> output, in PoolShape shape)
    {
        ValidatePool(shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(output.Length, nameof(output)), shape.OutputLength, nameof(output), shape);
        _avgPoolForward(Stream, StrideConfig(shape.OutputLength), input, output, shape);
    }

    /// <summary>inputGrad += outputGrad spread evenly over each window (without <paramref name="accumulate"/>,
    /// inputGrad's old contents are ignored).</summary>
    public void AvgPool2dBackward(ArrayView<float> outputGrad, ArrayView<float> inputGrad, in PoolShape shape,
        bool accumulate = true)
    {
        ValidatePool(shape);
        SpanLength.Require(Checked(outputGrad.Length, nameof(outputGrad)), shape.OutputLength,
            nameof(outputGrad), shape);
        SpanLength.Require(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength, nameof(inputGrad), shape);
        _avgPoolBackward(Stream, StrideConfig(shape.InputLength), outputGrad, inputGrad, shape, accumulate ? 1 : 0);
    }

    private static void MaxPoolForwardKernel(ArrayView<float> input, ArrayView<float> output, ArrayView<int> argmax,
        PoolShape shape)
    {
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;
        int total = shape.OutputLength, stride = Grid.DimX * Group.DimX;
        for (int o = Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += stride)
        {
            int q = o % Q, p = o / Q % P, plane = o / (P * Q);
            int best = (plane * H + p * shape.Stride) * W + q * shape.Stride;
            float max = input[best];
            for (int r = 0; r < shape.Kernel; r++)
            for (int s = 0; s < shape.Kernel; s++)
            {
                int i = (plane * H + p * shape.Stride + r) * W + q * shape.Stride + s;
                float value = input[i];
                if (value > max || float.IsNaN(value)) // first maximum on ties; a NaN wins, as in Reference
                {
                    max = value;
                    best = i;
                }
            }
            output[o] = max;
            argmax[o] = best;
        }
    }

    private static void MaxPoolBackwardKernel(ArrayView<float> outputGrad, ArrayView<int> argmax,
        ArrayView<float> inputGrad, PoolShape shape, int accumulate)
    {
        int total = shape.InputLength, stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
            Put(inputGrad, i, MaxPoolGradientAt(outputGrad, argmax, i, shape), accumulate);
    }

    /// <summary>Σ outputGrad[o] over the windows o that contain input element i and chose it as their
    /// maximum.</summary>
    internal static float MaxPoolGradientAt(ArrayView<float> outputGrad, ArrayView<int> argmax, int i, PoolShape shape)
    {
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;
        int w = i % W, h = i / W % H, plane = i / (H * W);
        // Windows p with p·stride ≤ h < p·stride + kernel.
        int pFirst = h < shape.Kernel ? 0 : (h - shape.Kernel) / shape.Stride + 1,
            pLast = IntMin(h / shape.Stride, P - 1);
        int qFirst = w < shape.Kernel ? 0 : (w - shape.Kernel) / shape.Stride + 1,
            qLast = IntMin(w / shape.Stride, Q - 1);
        float sum = 0f;
        for (int p = pFirst; p <= pLast; p++)
        for (int q = qFirst; q <= qLast; q++)
        {
            int o = (plane * P + p) * Q + q;
            if (argmax[o] == i)
                sum += outputGrad[o];
        }
        return sum;
    }

    private static void AvgPoolForwardKernel(ArrayView<float> input, ArrayView<float> output, PoolShape shape)
    {
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;
        int total = shape.OutputLength, stride = Grid.DimX * Group.DimX;
        float windowSize = shape.Kernel * shape.Kernel;
        for (int o = Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += stride)
        {
            int q = o % Q, p = o / Q % P, plane = o / (P * Q);
            float sum = 0f;
            for (int r = 0; r < shape.Kernel; r++)
            for (int s = 0; s < shape.Kernel; s++)
                sum += input[(plane * H + p * shape.Stride + r) * W + q * shape.Stride + s];
            output[o] = sum / windowSize;
        }
    }

    private static void AvgPoolBackwardKernel(ArrayView<float> outputGrad, ArrayView<float> inputGrad,
        PoolShape shape, int accumulate)
    {
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth;
        int total = shape.InputLength, stride = Grid.DimX * Group.DimX;
        float windowSize = shape.Kernel * shape.Kernel;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < total; i += stride)
        {
            int w = i % W, h = i / W % H, plane = i / (H * W);
            int pFirst = h < shape.Kernel ? 0 : (h - shape.Kernel) / shape.Stride + 1,
                pLast = IntMin(h / shape.Stride, P - 1);
            int qFirst = w < shape.Kernel ? 0 : (w - shape.Kernel) / shape.Stride + 1,
                qLast = IntMin(w / shape.Stride, Q - 1);
            float sum = 0f;
            for (int p = pFirst; p <= pLast; p++)
            for (int q = qFirst; q <= qLast; q++)
                sum += outputGrad[(plane * P + p) * Q + q] / windowSize;
            Put(inputGrad, i, sum, accumulate);
        }
    }

    private static int IntMin(int a, int b) => a < b ? a : b;

    private static int IntMax(int a, int b) => a > b ? a : b;

    private static void ValidatePool(in PoolShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Kernel < 1 || shape.Stride < 1
            || shape.Height < shape.Kernel || shape.Width < shape.Kernel)
            throw new ArgumentException(
                $"{shape} is not a valid pooling: sizes and stride must be positive and the window must fit the input.",
                nameof(shape));
    }
}
