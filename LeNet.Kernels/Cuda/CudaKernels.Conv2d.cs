using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Kernels.Cuda;

// Conv2d, NCHW, direct: forward one thread per output; backward in one kernel whose groups are split into regions —
// one group per weight element (a shared-memory sum over N·P·Q), one per bias element, then groups of input elements,
// each thread gathering its input gradient from the outputs it touched (no atomics, so results are deterministic).
public sealed partial class CudaKernels
{
    /// <summary>Which groups of the backward kernel do what: [0, WeightGroups) weights, then BiasGroups biases, the rest inputs.</summary>
    internal readonly record struct ConvBackwardPlan(int WeightGroups, int BiasGroups);

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int> _conv2dForward = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, ConvBackwardPlan> _conv2dBackward = null!;

    private void LoadConv2d()
    {
        _conv2dForward = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int>(Conv2dForwardKernel);
        _conv2dBackward = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, ConvBackwardPlan>(Conv2dBackwardKernel);
    }

    /// <summary>output [N,K,P,Q] = conv(input [N,C,H,W], weight [K,C,R,S]) + bias [K] (bias fused; an empty bias means none). Overwrites output.</summary>
    public void Conv2dForward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output, in ConvShape shape)
    {
        ValidateConv(shape);
        SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);
        SpanLength.Require(Checked(weight.Length, nameof(weight)), shape.WeightLength, nameof(weight), shape);
        SpanLength.RequireOrEmpty(Checked(bias.Length, nameof(bias)), shape.OutChannels, nameof(bias), shape);
        SpanLength.Require(Checked(output.Length, nameof(output)), shape.OutputLength, nameof(output), shape);
        _conv2dForward(Stream, StrideConfig(shape.OutputLength), input, weight, OrPlaceholder(bias, weight), output, shape, bias.Length > 0 ? 1 : 0);
    }

    /// <summary>inputGrad [N,C,H,W] += ∂L/∂input given outputGrad [N,K,P,Q] and weight.</summary>
    public void Conv2dBackwardInput(ArrayView<float> outputGrad, ArrayView<float> weight, ArrayView<float> inputGrad, in ConvShape shape) =>
        Conv2dBackward(default, weight, outputGrad, inputGrad, default, default, shape);

    /// <summary>weightGrad [K,C,R,S] += ∂L/∂weight given input and outputGrad.</summary>
    public void Conv2dBackwardWeight(ArrayView<float> input, ArrayView<float> outputGrad, ArrayView<float> weightGrad, in ConvShape shape) =>
        Conv2dBackward(input, default, outputGrad, default, weightGrad, default, shape);

    /// <summary>biasGrad [K] += Σ_{n,p,q} outputGrad[n,k,p,q].</summary>
    public void Conv2dBackwardBias(ArrayView<float> outputGrad, ArrayView<float> biasGrad, in ConvShape shape) =>
        Conv2dBackward(default, default, outputGrad, default, default, biasGrad, shape);

    /// <summary>
    /// All three gradients of a convolution in one launch; each of inputGrad, weightGrad, biasGrad may be empty to skip
    /// it (then input or weight, needed only by the other, may be empty too). Accumulates into each.
    /// </summary>
    public void Conv2dBackward(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, ArrayView<float> weightGrad, ArrayView<float> biasGrad, in ConvShape shape)
    {
        ValidateConv(shape);
        SpanLength.Require(Checked(outputGrad.Length, nameof(outputGrad)), shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.RequireOrEmpty(Checked(inputGrad.Length, nameof(inputGrad)), shape.InputLength, nameof(inputGrad), shape);
        SpanLength.RequireOrEmpty(Checked(weightGrad.Length, nameof(weightGrad)), shape.WeightLength, nameof(weightGrad), shape);
        SpanLength.RequireOrEmpty(Checked(biasGrad.Length, nameof(biasGrad)), shape.OutChannels, nameof(biasGrad), shape);
        if (inputGrad.Length > 0)
            SpanLength.Require(Checked(weight.Length, nameof(weight)), shape.WeightLength, nameof(weight), shape);
        if (weightGrad.Length > 0)
            SpanLength.Require(Checked(input.Length, nameof(input)), shape.InputLength, nameof(input), shape);

        // Regions present are laid out weights, biases, inputs; an absent one has no groups.
        int weightGroups = weightGrad.Length > 0 ? shape.WeightLength : 0;
        int biasGroups = biasGrad.Length > 0 ? shape.OutChannels : 0;
        int inputGroups = inputGrad.Length > 0 ? (shape.InputLength + ReductionGroupSize - 1) / ReductionGroupSize : 0;
        if (weightGroups + biasGroups + inputGroups == 0)
            return;

        var placeholder = outputGrad;
        _conv2dBackward(Stream, new KernelConfig(weightGroups + biasGroups + inputGroups, ReductionGroupSize),
            OrPlaceholder(input, placeholder), OrPlaceholder(weight, placeholder), outputGrad,
            OrPlaceholder(inputGrad, placeholder), OrPlaceholder(weightGrad, placeholder), OrPlaceholder(biasGrad, placeholder),
            shape, new ConvBackwardPlan(weightGroups, biasGroups));
    }

    private static void Conv2dForwardKernel(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output, ConvShape shape, int hasBias)
    {
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth;
        int total = shape.OutputLength, stride = Grid.DimX * Group.DimX;
        for (int o = Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += stride)
        {
            int q = o % Q, p = o / Q % P, k = o / (P * Q) % K, n = o / (P * Q * K);
            float sum = hasBias != 0 ? bias[k] : 0f;
            for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++)
            {
                int h = p * shape.Stride + r - shape.Padding;
                if (h < 0 || h >= H) continue;
                int inputRow = ((n * C + c) * H + h) * W, weightRow = ((k * C + c) * R + r) * S;
                for (int s = 0; s < S; s++)
                {
                    int w = q * shape.Stride + s - shape.Padding;
                    if (w < 0 || w >= W) continue;
                    sum += input[inputRow + w] * weight[weightRow + s];
                }
            }
            output[o] = sum;
        }
    }

    private static void Conv2dBackwardKernel(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> outputGrad,
        ArrayView<float> inputGrad, ArrayView<float> weightGrad, ArrayView<float> biasGrad, ConvShape shape, ConvBackwardPlan plan)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduction.ScratchLength);
        int C = shape.InChannels, H = shape.Height, W = shape.Width, K = shape.OutChannels;
        int R = shape.KernelHeight, S = shape.KernelWidth, P = shape.OutHeight, Q = shape.OutWidth;
        int plane = P * Q, count = shape.Batch * plane;
        int group = Grid.IdxX, thread = Group.IdxX, threads = Group.DimX;

        if (group < plan.WeightGroups)
        {
            int s = group % S, r = group / S % R, c = group / (R * S) % C, k = group / (R * S * C);
            float sum = 0f;
            for (int j = thread; j < count; j += threads)
            {
                int n = j / plane, p = j % plane / Q, q = j % Q;
                int h = p * shape.Stride + r - shape.Padding, w = q * shape.Stride + s - shape.Padding;
                if (h >= 0 && h < H && w >= 0 && w < W)
                    sum += outputGrad[(n * K + k) * plane + p * Q + q] * input[((n * C + c) * H + h) * W + w];
            }
            float total = GroupReduction.SumToFirst(scratch, sum);
            if (thread == 0)
                weightGrad[group] += total;
        }
        else if (group < plan.WeightGroups + plan.BiasGroups)
        {
            int k = group - plan.WeightGroups;
            float sum = 0f;
            for (int j = thread; j < count; j += threads)
                sum += outputGrad[(j / plane * K + k) * plane + j % plane];
            float total = GroupReduction.SumToFirst(scratch, sum);
            if (thread == 0)
                biasGrad[k] += total;
        }
        else
        {
            int i = (group - plan.WeightGroups - plan.BiasGroups) * threads + thread;
            if (i >= shape.InputLength)
                return;
            int w = i % W, h = i / W % H, c = i / (H * W) % C, n = i / (H * W * C);
            float sum = 0f;
            for (int r = 0; r < R; r++)
            {
                int hp = h + shape.Padding - r; // = p·stride for the output row p that reads h through kernel row r
                if (hp < 0 || hp % shape.Stride != 0 || hp / shape.Stride >= P) continue;
                int p = hp / shape.Stride;
                for (int s = 0; s < S; s++)
                {
                    int wq = w + shape.Padding - s;
                    if (wq < 0 || wq % shape.Stride != 0 || wq / shape.Stride >= Q) continue;
                    int q = wq / shape.Stride;
                    for (int k = 0; k < K; k++)
                        sum += outputGrad[((n * K + k) * P + p) * Q + q] * weight[((k * C + c) * R + r) * S + s];
                }
            }
            inputGrad[i] += sum;
        }
    }

    private static void ValidateConv(in ConvShape shape)
    {
        if (shape.Batch < 1 || shape.InChannels < 1 || shape.Height < 1 || shape.Width < 1 || shape.OutChannels < 1
            || shape.KernelHeight < 1 || shape.KernelWidth < 1 || shape.Stride < 1 || shape.Padding < 0
            || shape.Height + 2 * shape.Padding < shape.KernelHeight || shape.Width + 2 * shape.Padding < shape.KernelWidth)
            throw new ArgumentException($"{shape} is not a valid convolution: sizes and stride must be positive, padding non-negative, and the kernel must fit the padded input.", nameof(shape));
    }
}
