// Flat elementwise max(x, 0) and its masked backward; vectorised (512/256/128-bit), chunks split across Workers when
// large.
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>Elementwise max(x, 0), a NaN propagating; the gradient at exactly 0 is 0 (as Reference and
/// PyTorch).</summary>
public static unsafe class ReLU
{
    private struct Pass
    {
        public float* Input, OutputGrad, Output;
        public int Length, Chunk;
    }

    /// <summary>output = max(input, 0). Overwrites output; output may alias input.</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        SpanLength.RequireSame(output.Length, input.Length, nameof(output), nameof(input));
        fixed (float* x = input, y = output)
        {
            var pass = new Pass { Input = x, Output = y, Length = input.Length };
            int parts = ElementwiseSimd.FlatParts(input.Length, out pass.Chunk);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &ForwardPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &ForwardPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &ForwardPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    /// <summary>inputGrad += outputGrad where input &gt; 0.</summary>
    public static void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> inputGrad)
    {
        SpanLength.RequireSame(outputGrad.Length, input.Length, nameof(outputGrad), nameof(input));
        SpanLength.RequireSame(inputGrad.Length, input.Length, nameof(inputGrad), nameof(input));
        fixed (float* x = input, dy = outputGrad, dx = inputGrad)
        {
            var pass = new Pass { Input = x, OutputGrad = dy, Output = dx, Length = input.Length };
            int parts = ElementwiseSimd.FlatParts(input.Length, out pass.Chunk);
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &BackwardPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &BackwardPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &BackwardPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    /// <summary>x &lt; 0 ? 0 : x: a NaN fails the comparison and passes through, as IEEE maximum would let
    /// it.</summary>
    internal static float Apply(float x) => x < 0 ? 0 : x;

    private static void ForwardPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int start = part * pass->Chunk, end = Math.Min(pass->Length, start + pass->Chunk);
        float* x = pass->Input, y = pass->Output;
        var zero = TS.Zero;
        int i = start;
        for (; i <= end - TS.Count; i += TS.Count)
        {
            var v = TS.Load(x + i);
            TS.Store(y + i, TS.Select(TS.LessThan(v, zero), zero, v));
        }
        for (; i < end; i++)
            y[i] = Apply(x[i]);
    }

    private static void BackwardPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int start = part * pass->Chunk, end = Math.Min(pass->Length, start + pass->Chunk);
        float* x = pass->Input, dy = pass->OutputGrad, dx = pass->Output;
        var zero = TS.Zero;
        int i = start;
        for (; i <= end - TS.Count; i += TS.Count)
        {
            var passes = TS.GreaterThan(TS.Load(x + i), zero);
            TS.Store(dx + i, TS.Add(TS.Load(dx + i), TS.Select(passes, TS.Load(dy + i), zero)));
        }
        for (; i < end; i++)
            if (x[i] > 0)
                dx[i] += dy[i];
    }
}
