// Adam written the obvious way with TensorPrimitives (one primitive per term, in stack chunks), for comparison with
// the hand-written Cpu kernel.
using System.Numerics.Tensors;
using LeNet.Kernels;

namespace LeNet.Benchmarks.Primitives;

/// <summary>
/// One Adam (or AdamW) step by TensorPrimitives; same formulation and signature as the Reference kernel.
/// </summary>
public static class Adam
{
    private const int Chunk = 1024;

    /// <summary>Updates parameter, firstMoment and secondMoment in place; grad is read only.</summary>
    public static void Step(Span<float> parameter, ReadOnlySpan<float> grad, Span<float> firstMoment,
        Span<float> secondMoment, int step, float learningRate, float beta1, float beta2, float eps, float weightDecay,
        bool decoupled = false)
    {
        SpanLength.RequireSame(grad.Length, parameter.Length, nameof(grad), nameof(parameter));
        SpanLength.RequireSame(firstMoment.Length, parameter.Length, nameof(firstMoment), nameof(parameter));
        SpanLength.RequireSame(secondMoment.Length, parameter.Length, nameof(secondMoment), nameof(parameter));
        if (step < 1)
            throw new ArgumentOutOfRangeException(nameof(step), step, "Adam's step count starts at 1.");
        float stepSize = (float)(learningRate / (1 - Math.Pow(beta1, step)));
        float correction2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
        Span<float> g = stackalloc float[Chunk];
        Span<float> t = stackalloc float[Chunk];
        for (int start = 0; start < parameter.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, parameter.Length - start);
            Span<float> p = parameter.Slice(start, n), m = firstMoment.Slice(start, n);
            Span<float> v = secondMoment.Slice(start, n);
            Span<float> gc = g[..n], tc = t[..n];
            grad.Slice(start, n).CopyTo(gc);
            if (decoupled) TensorPrimitives.Multiply(p, 1 - learningRate * weightDecay, p);
            else if (weightDecay != 0) TensorPrimitives.MultiplyAdd(p, weightDecay, gc, gc);
            TensorPrimitives.Multiply(m, beta1, m);
            TensorPrimitives.MultiplyAdd(gc, 1 - beta1, m, m);
            TensorPrimitives.Multiply(gc, gc, tc);
            TensorPrimitives.Multiply(v, beta2, v);
            TensorPrimitives.MultiplyAdd(tc, 1 - beta2, v, v);
            TensorPrimitives.Sqrt(v, tc);
            TensorPrimitives.Divide(tc, correction2Sqrt, tc);
            TensorPrimitives.Add(tc, eps, tc);
            TensorPrimitives.Divide(m, tc, tc);
            TensorPrimitives.MultiplyAdd(tc, -stepSize, p, p);
        }
    }
}
