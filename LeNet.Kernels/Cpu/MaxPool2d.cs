// Max pooling over NCHW planes: 2×2 stride 2 deinterleaves row pairs into SIMD lanes (window order kept), other windows
// scalar; planes split across Workers.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Max pooling over NCHW; forward saves, per output, the flat input index of the maximum — the first one on ties, and
/// on NaN the last NaN of the window in row-major order — exactly as the Reference kernel does.
/// </summary>
public static unsafe class MaxPool2d
{
    private struct Pass
    {
        public float* Input, Output;
        public int* Argmax;
        public PoolShape Shape;
        public int Planes, PlanesPerPart;
    }

    /// <summary>Overwrites output [N,C,P,Q] and argmax (same length; flat indices into input).</summary>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, in PoolShape shape)
    {
        Validate(shape);
        SpanLength.Require(input.Length, shape.InputLength, nameof(input), shape);
        SpanLength.Require(output.Length, shape.OutputLength, nameof(output), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        fixed (float* x = input, y = output)
        fixed (int* index = argmax)
        {
            var pass = new Pass { Input = x, Output = y, Argmax = index, Shape = shape,
                Planes = shape.Batch * shape.Channels };
            int parts = SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            switch (ElementwiseSimd.WidthFor(shape.OutWidth))
            {
                case 512: Workers.Run(parts, &pass, &ForwardPart<Vector512<float>, ElementwiseSimd512>); break;
                case 256: Workers.Run(parts, &pass, &ForwardPart<Vector256<float>, ElementwiseSimd256>); break;
                default: Workers.Run(parts, &pass, &ForwardPart<Vector128<float>, ElementwiseSimd128>); break;
            }
        }
    }

    /// <summary>inputGrad[argmax[i]] += outputGrad[i]. Each argmax must lie in its own output's input plane (as forward
    /// writes it).</summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, ReadOnlySpan<int> argmax, Span<float> inputGrad,
        in PoolShape shape)
    {
        Validate(shape);
        SpanLength.Require(outputGrad.Length, shape.OutputLength, nameof(outputGrad), shape);
        SpanLength.Require(argmax.Length, shape.OutputLength, nameof(argmax), shape);
        SpanLength.Require(inputGrad.Length, shape.InputLength, nameof(inputGrad), shape);
        fixed (float* dy = outputGrad, dx = inputGrad)
        fixed (int* index = argmax)
        {
            var pass = new Pass { Input = dy, Output = dx, Argmax = index, Shape = shape,
                Planes = shape.Batch * shape.Channels };
            int parts = SplitPlanes(pass.Planes, shape.InputLength, out pass.PlanesPerPart);
            Workers.Run(parts, &pass, &BackwardPart);
        }
    }

    /// <summary>Parts of whole planes for a pass touching <paramref name="elements"/> values; the planes each part
    /// takes.</summary>
    internal static int SplitPlanes(int planes, long elements, out int planesPerPart)
    {
        int parts = ElementwiseSimd.Parts(planes, elements);
        planesPerPart = (planes + parts - 1) / parts;
        return (planes + planesPerPart - 1) / planesPerPart;
    }

    private static void ForwardPart<TV, TS>(void* state, int part) where TV : struct where TS : IElementwiseSimd<TV>
    {
        var pass = (Pass*)state;
        ref readonly PoolShape shape = ref pass->Shape;
        int planeIn = shape.Height * shape.Width, planeOut = shape.OutHeight * shape.OutWidth;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
            PoolPlane<TV, TS, ElementwiseIdentity<TV>>(pass->Input + (long)plane * planeIn, plane * planeIn, shape,
                pass->Output + (long)plane * planeOut, pass->Argmax + (long)plane * planeOut, default);
    }

    private static void BackwardPart(void* state, int part)
    {
        var pass = (Pass*)state;
        ref readonly PoolShape shape = ref pass->Shape;
        int planeIn = shape.Height * shape.Width, planeOut = shape.OutHeight * shape.OutWidth;
        int end = Math.Min(pass->Planes, (part + 1) * pass->PlanesPerPart);
        float* dy = pass->Input, dx = pass->Output;
        int* argmax = pass->Argmax;
        for (int plane = part * pass->PlanesPerPart; plane < end; plane++)
        {
            int first = plane * planeIn;
            for (int o = plane * planeOut; o < (plane + 1) * planeOut; o++)
            {
                int i = argmax[o];
                // Bounds (and no race with another part's plane): forward only ever writes indices in the same plane.
                if ((uint)(i - first) >= (uint)planeIn)
                    throw new ArgumentException(
                        $"argmax[{o}] = {i} is outside input plane {plane}; pass the argmax that forward wrote.",
                        nameof(argmax));
                dx[i] += dy[o];
            }
        }
    }

    /// <summary>
    /// Pools one [H, W] plane (after applying <paramref name="transform"/> to each value) into [P, Q] output and
    /// argmax.
    /// <paramref name="planeOffset"/> is the plane's flat offset in the whole input, added to the saved indices.
    /// 2×2 stride 2 rows of at least TS.Count outputs run in SIMD (a last, overlapping chunk covers the row's tail).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PoolPlane<TV, TS, TF>(float* plane, int planeOffset, in PoolShape shape, float* output,
        int* argmax, TF transform)
        where TV : struct where TS : IElementwiseSimd<TV> where TF : struct, IElementwiseTransform<TV>
    {
        int W = shape.Width, P = shape.OutHeight, Q = shape.OutWidth, k = shape.Kernel, stride = shape.Stride;
        if (k == 2 && stride == 2 && Q >= TS.Count)
        {
            var one = TS.SplatInt32(1);
            var below = TS.SplatInt32(W);
            var belowRight = TS.SplatInt32(W + 1);
            var evenColumns = TS.SequenceInt32(0, 2);
            for (int p = 0; p < P; p++)
            {
                float* top = plane + 2 * p * W, bottom = top + W;
                int rowIndex = planeOffset + 2 * p * W;
                for (int q = 0; ; q += TS.Count)
                {
                    if (q > Q - TS.Count) q = Q - TS.Count;
                    TS.Deinterleave(transform.Apply(TS.Load(top + 2 * q)),
                        transform.Apply(TS.Load(top + 2 * q + TS.Count)), out var a, out var b);
                    TS.Deinterleave(transform.Apply(TS.Load(bottom + 2 * q)),
                        transform.Apply(TS.Load(bottom + 2 * q + TS.Count)), out var c, out var d);
                    // The Reference scan in window order: strictly greater keeps the first maximum; a NaN always takes
                    // over.
                    var max = a;
                    var offset = TS.Zero;
                    var take = TS.Or(TS.GreaterThan(b, max), TS.IsNaN(b));
                    max = TS.Select(take, b, max);
                    offset = TS.Select(take, one, offset);
                    take = TS.Or(TS.GreaterThan(c, max), TS.IsNaN(c));
                    max = TS.Select(take, c, max);
                    offset = TS.Select(take, below, offset);
                    take = TS.Or(TS.GreaterThan(d, max), TS.IsNaN(d));
                    max = TS.Select(take, d, max);
                    offset = TS.Select(take, belowRight, offset);
                    TS.Store(output + p * Q + q, max);
                    TS.StoreInt32(argmax + p * Q + q,
                        TS.AddInt32(TS.AddInt32(offset, evenColumns), TS.SplatInt32(rowIndex + 2 * q)));
                    if (q == Q - TS.Count) break;
                }
            }
            return;
        }

        for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++)
        {
            int corner = p * stride * W + q * stride;
            int best = corner;
            float max = transform.Apply(plane[corner]);
            for (int r = 0; r < k; r++)
            for (int s = 0; s < k; s++)
            {
                int i = corner + r * W + s;
                float value = transform.Apply(plane[i]);
                if (value > max || float.IsNaN(value))
                {
                    max = value;
                    best = i;
                }
            }
            output[p * Q + q] = max;
            argmax[p * Q + q] = planeOffset + best;
        }
    }

    internal static void Validate(in PoolShape shape)
    {
        if (shape.Batch < 1 || shape.Channels < 1 || shape.Kernel < 1 || shape.Stride < 1
            || shape.Height < shape.Kernel || shape.Width < shape.Kernel)
            throw new ArgumentException(
                $"{shape} is not a valid pooling: sizes and stride must be positive and the window must fit the input.",
                nameof(shape));
    }
}
