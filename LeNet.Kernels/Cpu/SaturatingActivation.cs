// Shared pass of the activations whose derivative is a function of their output (tanh, logistic): forward by a
// TensorPrimitives call per chunk, backward inputGrad += outputGrad·f'(output) in SIMD; chunks across Workers when
// large.
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>An activation y = f(x) whose derivative is written in terms of y, so backward needs only the saved
/// output.</summary>
internal interface IActivationOfOutput
{
    /// <summary>output = f(input), elementwise (output may alias input).</summary>
    static abstract void Apply(ReadOnlySpan<float> input, Span<float> output);

    /// <summary>f'(x) written in terms of y = f(x), per lane.</summary>
    static abstract TV Derivative<TV, TS>(TV output) where TV : struct where TS : IElementwiseSimd<TV>;

    /// <summary>f'(x) written in terms of y = f(x).</summary>
    static abstract float Derivative(float output);
}

/// <summary>Forward and backward of an <see cref="IActivationOfOutput"/> over flat spans.</summary>
internal static unsafe class SaturatingActivation<TF> where TF : IActivationOfOutput
{
    private struct Pass
    {
        public float* Input, OutputGrad, Output;
        public int Length, Chunk;
    }

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
        TF.Apply(new ReadOnlySpan<float>(pass->Input + start, count), new Span<float>(pass->Output + start, count));
    }

    private static void BackwardPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int start = part * pass->Chunk, end = Math.Min(pass->Length, start + pass->Chunk);
        float* y = pass->Input, dy = pass->OutputGrad, dx = pass->Output;
        int i = start;
        for (; i <= end - TS.Count; i += TS.Count)
            TS.Store(dx + i, TS.MultiplyAdd(TS.Load(dy + i), TF.Derivative<TV, TS>(TS.Load(y + i)), TS.Load(dx + i)));
        for (; i < end; i++)
            dx[i] = MathF.FusedMultiplyAdd(dy[i], TF.Derivative(y[i]), dx[i]);
    }
}
