// Augmentation on the CPU: parts of the batch's images across Workers; each image is copied into a scratch framed by
// two pixels of background, and each row samples a vector of pixels (coordinates, four gathers, the blend) at a time.
using System.Runtime.Intrinsics;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// <see cref="Reference.Augment.Apply"/> vectorised: the same float operations in the same order lane by lane, so the
/// result is Reference's bit for bit, at every width and thread count (each image is one part's alone).
/// </summary>
public static unsafe class Augment
{
    /// <summary>The largest side the kernel takes: its framed scratch image is on the stack (70 KB at 128).</summary>
    public const int MaxSize = 128;

    // A corner's coordinate clamped into [−Frame, size] reads the frame (the background) exactly when the Reference's
    // bounds check would: a corner pair at x0 ≤ −2 or x0 ≥ size lies wholly outside, and is clamped to such a pair.
    private const int Frame = 2;

    private struct Pass
    {
        public float* Images, Batch;
        public int* Indices;
        public int Size, Count, ImagesPerPart, Seed, Epoch;
        public Augmentation Augmentation;
    }

    /// <summary>As <see cref="Reference.Augment.Apply"/>: overwrites batch [indices.Length, size·size].</summary>
    public static void Apply(ReadOnlySpan<float> images, ReadOnlySpan<int> indices, Span<float> batch, int size,
        in Augmentation augmentation, int seed, int epoch)
    {
        augmentation.CheckBatch(images.Length, indices, batch.Length, size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, MaxSize);
        if (indices.Length == 0) return;
        fixed (float* source = images, destination = batch)
        fixed (int* at = indices)
        {
            var pass = new Pass
            {
                Images = source, Batch = destination, Indices = at, Size = size, Count = indices.Length,
                Seed = seed, Epoch = epoch, Augmentation = augmentation,
            };
            // Each image is a few thousand operations: worth splitting even a small batch.
            int parts = Math.Min(indices.Length, Workers.ThreadCount == 1 ? 1 : 4 * Workers.ThreadCount);
            pass.ImagesPerPart = (indices.Length + parts - 1) / parts;
            parts = (indices.Length + pass.ImagesPerPart - 1) / pass.ImagesPerPart;
            switch (ElementwiseSimd.WidthFor(size))
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
        int size = pass->Size, length = size * size, side = size + 2 * Frame;
        int first = part * pass->ImagesPerPart, end = Math.Min(pass->Count, first + pass->ImagesPerPart);
        var augmentation = pass->Augmentation;
        float* framed = stackalloc float[side * side];
        float* columns = stackalloc float[size];
        new Span<float>(framed, side * side).Fill(augmentation.Background);
        for (int x = 0; x < size; x++) columns[x] = x;
        for (int k = first; k < end; k++)
        {
            int index = pass->Indices[k];
            float* source = pass->Images + (long)index * length, image = pass->Batch + (long)k * length;
            for (int y = 0; y < size; y++)
                new ReadOnlySpan<float>(source + y * size, size).CopyTo(
                    new Span<float>(framed + (y + Frame) * side + Frame, size));
            var draw = augmentation.Draw(pass->Seed, pass->Epoch, index);
            for (int y = 0; y < size; y++)
                Row<TV, TS>(framed, columns, image + y * size, size, y, draw);
            if (augmentation.Noise > 0)
                for (int pixel = 0; pixel < length; pixel++)
                    image[pixel] += augmentation.NoiseAt(pass->Seed, pass->Epoch, index, pixel);
        }
    }

    /// <summary>Output row y, a vector of pixels at a time (the last vector overlapping the one before).</summary>
    private static void Row<TV, TS>(float* framed, float* columns, float* output, int size, int y, in AffineDraw draw)
        where TV : struct where TS : IElementwiseSimd<TV>
    {
        int side = size + 2 * Frame;
        float centre = AffineDraw.Centre(size);
        if (size < TS.Count)
        {
            for (int x = 0; x < size; x++)
                output[x] = Sample(framed, side, size, draw.SourceX(x, y, centre), draw.SourceY(x, y, centre));
            return;
        }
        // AffineDraw.SourceX / SourceY with v = y − c − dy, the same for the whole row, computed once.
        float v = y - centre - draw.Dy, sinV = draw.Sin * v, cosV = draw.Cos * v;
        TV c = TS.Splat(centre), dx = TS.Splat(draw.Dx), cos = TS.Splat(draw.Cos), sin = TS.Splat(draw.Sin);
        TV lowest = TS.Splat(-Frame), highest = TS.Splat(size), frame = TS.Splat(Frame), width = TS.Splat(side);
        TV one = TS.Splat(1f);
        for (int x = 0; x < size; x += TS.Count)
        {
            int at = Math.Min(x, size - TS.Count);
            TV u = TS.Subtract(TS.Subtract(TS.Load(columns + at), c), dx);
            TV sx = TS.Add(TS.Add(TS.Multiply(cos, u), TS.Splat(sinV)), c);
            TV sy = TS.Add(TS.Subtract(TS.Splat(cosV), TS.Multiply(sin, u)), c);
            TV x0 = TS.Floor(sx), y0 = TS.Floor(sy);
            TV left = TS.Add(TS.Min(TS.Max(x0, lowest), highest), frame);
            TV top = TS.Add(TS.Min(TS.Max(y0, lowest), highest), frame);
            TV corner = TS.Add(TS.Multiply(top, width), left);
            TV a = TS.Gather(framed, corner), b = TS.Gather(framed + 1, corner);
            TV below = TS.Gather(framed + side, corner), belowRight = TS.Gather(framed + side + 1, corner);
            TV fx = TS.Subtract(sx, x0), fy = TS.Subtract(sy, y0), gx = TS.Subtract(one, fx);
            TV upper = TS.Add(TS.Multiply(gx, a), TS.Multiply(fx, b));
            TV lower = TS.Add(TS.Multiply(gx, below), TS.Multiply(fx, belowRight));
            TS.Store(output + at, TS.Add(TS.Multiply(TS.Subtract(one, fy), upper), TS.Multiply(fy, lower)));
        }
    }

    /// <summary>One pixel as the vector lanes compute it (rows narrower than a vector).</summary>
    private static float Sample(float* framed, int side, int size, float sx, float sy)
    {
        float x0 = MathF.Floor(sx), y0 = MathF.Floor(sy);
        int left = (int)Math.Clamp(x0, -Frame, size) + Frame, top = (int)Math.Clamp(y0, -Frame, size) + Frame;
        float* corner = framed + top * side + left;
        return AffineDraw.Blend(corner[0], corner[1], corner[side], corner[side + 1], sx - x0, sy - y0);
    }
}
