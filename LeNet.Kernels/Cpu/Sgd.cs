// SGD with momentum, dampening, Nesterov and weight decay over a flat parameter span: one SIMD pass (512/256/128-bit).
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>One step of stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay
/// (PyTorch's torch.optim.SGD, as the Reference kernel).</summary>
public static unsafe class Sgd
{
    private struct Pass
    {
        public float* Parameter, Grad, Buffer;
        public int Length;
        public float LearningRate, Momentum, Dampening, WeightDecay;
        public bool FirstStep, Nesterov;
    }

    /// <summary>
    /// g = grad + weightDecay·p; if momentum ≠ 0: buf = firstStep ? g : momentum·buf + (1 − dampening)·g,
    /// g = nesterov ? g + momentum·buf : buf; p −= lr·g. momentumBuffer may be empty when momentum is 0.
    /// </summary>
    public static void Step(Span<float> parameter, ReadOnlySpan<float> grad, Span<float> momentumBuffer, bool firstStep,
        float learningRate, float momentum, float dampening, float weightDecay, bool nesterov)
    {
        SpanLength.RequireSame(grad.Length, parameter.Length, nameof(grad), nameof(parameter));
        bool useMomentum = momentum != 0;
        if (useMomentum)
            SpanLength.RequireSame(momentumBuffer.Length, parameter.Length, nameof(momentumBuffer), nameof(parameter));
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException(
                "Nesterov momentum needs a positive momentum and zero dampening (as torch.optim.SGD requires).",
                nameof(nesterov));

        fixed (float* p = parameter, g = grad, b = momentumBuffer)
        {
            var pass = new Pass
            {
                Parameter = p, Grad = g, Buffer = useMomentum ? b : null, Length = parameter.Length,
                LearningRate = learningRate, Momentum = momentum, Dampening = dampening, WeightDecay = weightDecay,
                FirstStep = firstStep, Nesterov = nesterov,
            };
            switch (ElementwiseSimd.Width)
            {
                case 512: Run<Vector512<float>, ElementwiseSimd512>(&pass); break;
                case 256: Run<Vector256<float>, ElementwiseSimd256>(&pass); break;
                default: Run<Vector128<float>, ElementwiseSimd128>(&pass); break;
            }
        }
    }

    private static void Run<TV, TS>(Pass* pass) where TV : struct where TS : IElementwiseSimd<TV>
    {
        float* p = pass->Parameter, g = pass->Grad, buffer = pass->Buffer;
        int length = pass->Length;
        bool decay = pass->WeightDecay != 0, useMomentum = buffer != null, first = pass->FirstStep,
            nesterov = pass->Nesterov;
        float momentum = pass->Momentum, keep = 1 - pass->Dampening, weightDecay = pass->WeightDecay,
            negativeRate = -pass->LearningRate;
        TV vMomentum = TS.Splat(momentum), vKeep = TS.Splat(keep), vWeightDecay = TS.Splat(weightDecay),
            vNegativeRate = TS.Splat(negativeRate);
        int i = 0;
        for (; i <= length - TS.Count; i += TS.Count)
        {
            TV parameter = TS.Load(p + i), gradient = TS.Load(g + i);
            if (decay) gradient = TS.MultiplyAdd(vWeightDecay, parameter, gradient);
            if (useMomentum)
            {
                TV velocity = first ? gradient
                    : TS.MultiplyAdd(vMomentum, TS.Load(buffer + i), TS.Multiply(vKeep, gradient));
                TS.Store(buffer + i, velocity);
                gradient = nesterov ? TS.MultiplyAdd(vMomentum, velocity, gradient) : velocity;
            }
            TS.Store(p + i, TS.MultiplyAdd(vNegativeRate, gradient, parameter));
        }
        for (; i < length; i++)
        {
            float parameter = p[i], gradient = g[i];
            if (decay) gradient = MathF.FusedMultiplyAdd(weightDecay, parameter, gradient);
            if (useMomentum)
            {
                float velocity = first ? gradient : MathF.FusedMultiplyAdd(momentum, buffer[i], keep * gradient);
                buffer[i] = velocity;
                gradient = nesterov ? MathF.FusedMultiplyAdd(momentum, velocity, gradient) : velocity;
            }
            p[i] = MathF.FusedMultiplyAdd(negativeRate, gradient, parameter);
        }
    }
}
