// Adam / AdamW over a flat parameter span: one fused SIMD pass (512/256/128-bit) updating moments and parameters, in
// parts across the workers for large tensors; bias corrections in double.
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>One Adam (or, with decoupled = true, AdamW) step over a flat parameter span, PyTorch's formulation (as the
/// Reference kernel).</summary>
public static unsafe class Adam
{
    private struct Pass
    {
        public float* Parameter, Grad, FirstMoment, SecondMoment;
        public int Length, PartLength;
        public float Beta1, Beta2, Eps, WeightDecay, StepSize, InverseCorrection2, Decay;
        public bool Decoupled, ClearGradient;
    }

    /// <summary>Elements per part: a whole number of vectors at every width, enough work to be worth a
    /// hand-off.</summary>
    private const int PartLength = 8192;

    /// <summary>
    /// For step t (1-based): g = grad + weightDecay·p (L2, Adam) — or p ·= 1 − lr·weightDecay first (decoupled, AdamW);
    /// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
    /// p −= (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)   (eps added after the square root).
    /// Updates parameter, firstMoment and secondMoment in place; grad is read, then set to zero when
    /// <paramref name="clearGradient"/> (the clearing a training step needs anyway, without a pass of its own).
    /// </summary>
    public static void Step(Span<float> parameter, Span<float> grad, Span<float> firstMoment, Span<float> secondMoment,
        int step, float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled = false,
        bool clearGradient = false)
    {
        SpanLength.RequireSame(grad.Length, parameter.Length, nameof(grad), nameof(parameter));
        SpanLength.RequireSame(firstMoment.Length, parameter.Length, nameof(firstMoment), nameof(parameter));
        SpanLength.RequireSame(secondMoment.Length, parameter.Length, nameof(secondMoment), nameof(parameter));
        if (step < 1)
            throw new ArgumentOutOfRangeException(nameof(step), step,
                "Adam's step count starts at 1 (it is the t in the bias corrections 1 − βᵗ).");

        fixed (float* p = parameter, g = grad, m = firstMoment, v = secondMoment)
        {
            var pass = new Pass
            {
                Parameter = p, Grad = g, FirstMoment = m, SecondMoment = v, Length = parameter.Length,
                Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, Decoupled = decoupled,
                ClearGradient = clearGradient, PartLength = PartLength,
                StepSize = (float)(learningRate / (1 - Math.Pow(beta1, step))),
                InverseCorrection2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, step))),
                Decay = 1 - learningRate * weightDecay,
            };
            int parts = (parameter.Length + PartLength - 1) / PartLength;
            switch (ElementwiseSimd.Width)
            {
                case 512: Workers.Run(parts, &pass, &Part<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &Part<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &Part<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    private static void Part<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        int start = part * pass->PartLength;
        Run<TV, TS>(pass, start, Math.Min(pass->Length - start, pass->PartLength));
    }

    private static void Run<TV, TS>(Pass* pass, int start, int length) where TV : struct where TS : IElementwiseSimd<TV>
    {
        float* p = pass->Parameter + start, g = pass->Grad + start, m = pass->FirstMoment + start,
            v = pass->SecondMoment + start;
        bool clear = pass->ClearGradient;
        bool decoupled = pass->Decoupled, l2 = !decoupled && pass->WeightDecay != 0;
        float beta1 = pass->Beta1, beta2 = pass->Beta2, oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2;
        TV vBeta1 = TS.Splat(beta1), vBeta2 = TS.Splat(beta2), vOneMinusBeta1 = TS.Splat(oneMinusBeta1),
            vOneMinusBeta2 = TS.Splat(oneMinusBeta2);
        TV vEps = TS.Splat(pass->Eps), vDecay = TS.Splat(pass->Decay), vWeightDecay = TS.Splat(pass->WeightDecay);
        TV vInverseCorrection2 = TS.Splat(pass->InverseCorrection2), vNegativeStep = TS.Splat(-pass->StepSize);
        int i = 0;
        for (; i <= length - TS.Count; i += TS.Count)
        {
            TV parameter = TS.Load(p + i), gradient = TS.Load(g + i);
            if (clear) TS.Store(g + i, TS.Zero);
            if (decoupled) parameter = TS.Multiply(parameter, vDecay);
            else if (l2) gradient = TS.MultiplyAdd(vWeightDecay, parameter, gradient);
            TV first = TS.MultiplyAdd(vBeta1, TS.Load(m + i), TS.Multiply(vOneMinusBeta1, gradient));
            TV second = TS.MultiplyAdd(vBeta2, TS.Load(v + i),
                TS.Multiply(TS.Multiply(vOneMinusBeta2, gradient), gradient));
            TV denominator = TS.MultiplyAdd(TS.Sqrt(second), vInverseCorrection2, vEps);
            TS.Store(m + i, first);
            TS.Store(v + i, second);
            TS.Store(p + i, TS.MultiplyAdd(vNegativeStep, TS.Divide(first, denominator), parameter));
        }
        float eps = pass->Eps, decay = pass->Decay, weightDecay = pass->WeightDecay,
            inverseCorrection2 = pass->InverseCorrection2, negativeStep = -pass->StepSize;
        for (; i < length; i++)
        {
            float parameter = p[i], gradient = g[i];
            if (clear) g[i] = 0;
            if (decoupled) parameter *= decay;
            else if (l2) gradient = MathF.FusedMultiplyAdd(weightDecay, parameter, gradient);
            float first = MathF.FusedMultiplyAdd(beta1, m[i], oneMinusBeta1 * gradient);
            float second = MathF.FusedMultiplyAdd(beta2, v[i], oneMinusBeta2 * gradient * gradient);
            float denominator = MathF.FusedMultiplyAdd(MathF.Sqrt(second), inverseCorrection2, eps);
            m[i] = first;
            v[i] = second;
            p[i] = MathF.FusedMultiplyAdd(negativeStep, first / denominator, parameter);
        }
    }
}
