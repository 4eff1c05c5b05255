// Flat elementwise logistic: forward by TensorPrimitives (vectorised exp, no overflow), backward dy·y·(1 − y) in SIMD; chunks across Workers when large.
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>Elementwise logistic function; backward uses the saved output: dy·y·(1 − y).</summary>
public static unsafe class Sigmoid
{
    private struct Pass
    {
        public float* Input, OutputGrad, Output;
        public int Length, Chunk;
    }

    /// <summary>output = 1/(1 + e^−input); saturates to 0 or 1 for large |input| without overflow. Overwrites output; output may alias input.</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        SpanLength.RequireSame(output.Length, input.Length, nameof(output), nameof(input));
        fixed (float* x = input, y = output)
        {
            var pass = new Pass { Input = x, Output = y, Length = input.Length };
            int parts = ElementwiseSimd.FlatParts(input.Length, out pass.Chunk);
            Workers.Run(parts, &pass, &ForwardPart);
        }
    }

    /// <summary>inputGrad += outputGrad·output·(1 − output).</summary>
    public static void Backward(ReadOnlySpan<float> output, ReadOnlySpan<float> outputGrad, Span<float> inputGrad)
    {
        SpanLength.RequireSame(outputGrad.Length, output.Length, nameof(outputGrad), nameof(output));
        SpanLength.RequireSame(inputGrad.Length, output.Length, nameof(inputGrad), nameof(output));
        fixed (float* y = output, dy = outputGrad, dx = inputGrad)
        {
            var pass = new Pass { Input = y, OutputGrad = dy, Output = dx, Length = output.Length };
            int parts = ElementwiseSimd.FlatParts(output.Length, out pass.Chunk);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &BackwardPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &BackwardPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &BackwardPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    private static void ForwardPart(void* state, int part)
    {
        var pass = (Pass*)state;
        int start = part * pass->Chunk, count = Math.Min(pass->Length - start, pass->Chunk);
        TensorPrimitives.Sigmoid(new ReadOnlySpan<float>(pass->Input + start, count), new Span<float>(pass->Output + start, count));
    }

    private static void BackwardPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int start = part * pass->Chunk, end = Math.Min(pass->Length, start + pass->Chunk);
        float* y = pass->Input, dy = pass->OutputGrad, dx = pass->Output;
        var one = TS.Splat(1f);
        int i = start;
        for (; i <= end - TS.Count; i += TS.Count)
        {
            var v = TS.Load(y + i);
            TS.Store(dx + i, TS.MultiplyAdd(TS.Multiply(TS.Load(dy + i), v), TS.Subtract(one, v), TS.Load(dx + i)));
        }
        for (; i < end; i++)
            dx[i] = MathF.FusedMultiplyAdd(dy[i] * y[i], 1f - y[i], dx[i]);
    }
}
