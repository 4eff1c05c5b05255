// Average pooling over NCHW planes: 2×2 stride 2 forward deinterleaves row pairs into SIMD lanes, other windows and
// backward scalar; planes split across Workers.
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>Average pooling over NCHW (no padding, so every window averages kernel² values).</summary>
public static unsafe class AvgPool2d
{
    private struct Pass
    {
        public float* Input, Output;
        public PoolShape Shape;
        public int Planes, PlanesPerPart;
    }

    /// <summary>Overwrites output [N,C,P,Q] with the mean of each window.</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output, in PoolShape shape)
    {
        MaxPool2d.Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        fixed (float* x = input, y = output)
        {
            var pass = new Pass { Input = x, Output = y, Shape = shape, Planes = shape.Batch * shape.Channels };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            switch (ElementwiseSimd.WidthFor(shape.OutWidth))
            {
                case 512: Workers.Run(parts, &pass, &ForwardPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &ForwardPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &ForwardPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    /// <summary>inputGrad += outputGrad spread evenly over each window.</summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, in PoolShape shape)
    {
        MaxPool2d.Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        fixed (float* dy = outputGrad, dx = inputGrad)
        {
            var pass = new Pass { Input = dy, Output = dx, Shape = shape, Planes = shape.Batch * shape.Channels };
            int parts = MaxPool2d.SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            Workers.Run(parts, &pass, &BackwardPart);
        }
    }

    private static void ForwardPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        ref readonly PoolShape shape = ref pass->Shape;
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth, k = shape.Kernel,
            stride = shape.Stride;
        float windowSize = k * k;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            float* x = pass->Input + (long)plane * H * W, y = pass->Output + (long)plane * P * Q;
            if (k == 2 && stride == 2 && Q >= TS.Count)
            {
                var size = TS.Splat(windowSize);
                for (int p = 0; p < P; p++)
                {
                    float* top = x + 2 * p * W, bottom = top + W;
                    for (int q = 0; ; q += TS.Count)
                    {
                        if (q > Q - TS.Count) q = Q - TS.Count;
                        TS.Deinterleave(TS.Load(top + 2 * q), TS.Load(top + 2 * q + TS.Count), out var a, out var b);
                        TS.Deinterleave(TS.Load(bottom + 2 * q), TS.Load(bottom + 2 * q + TS.Count),
                            out var c, out var d);
                        // Summed in window order, as the Reference does.
                        TS.Store(y + p * Q + q, TS.Divide(TS.Add(TS.Add(TS.Add(a, b), c), d), size));
                        if (q == Q - TS.Count) break;
                    }
                }
                continue;
            }
            for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++)
            {
                float* corner = x + p * stride * W + q * stride;
                float sum = 0;
                for (int r = 0; r < k; r++)
                for (int s = 0; s < k; s++)
                    sum += corner[r * W + s];
                y[p * Q + q] = sum / windowSize;
            }
        }
    }

    private static void BackwardPart(void* state, int part)
    {
        var pass = (Pass*)state;
        ref readonly PoolShape shape = ref pass->Shape;
        int H = shape.Height, W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth, k = shape.Kernel,
            stride = shape.Stride;
        float windowSize = k * k;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            float* dy = pass->Input + (long)plane * P * Q, dx = pass->Output + (long)plane * H * W;
            for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++)
            {
                float share = dy[p * Q + q] / windowSize;
                float* corner = dx + p * stride * W + q * stride;
                for (int r = 0; r < k; r++)
                for (int s = 0; s < k; s++)
                    corner[r * W + s] += share;
            }
        }
    }
}
