// Augmentation, scalar: batch image k is source image indices[k] under its drawn transform, each output pixel sampled
// bilinearly at the inverse map of its position (outside: the background), plus its drawn noise. The oracle of both.
namespace LeNet.Kernels.Reference;

/// <summary>Random affine distortion (and noise) of square images [count, size·size], gathered into a batch.</summary>
public static class Augment
{
    /// <summary>
    /// batch[k] = images[indices[k]] distorted by the draw of (seed, epoch, indices[k]): <see cref="Augmentation"/>.
    /// Overwrites batch [indices.Length, size·size].
    /// </summary>
    public static void Apply(ReadOnlySpan<float> images, ReadOnlySpan<int> indices, Span<float> batch, int size,
        in Augmentation augmentation, int seed, int epoch)
    {
        augmentation.CheckBatch(images.Length, indices, batch.Length, size);
        int length = size * size;
        for (int k = 0; k < indices.Length; k++)
        {
            int index = indices[k];
            var image = batch.Slice(k * length, length);
            Transform(images.Slice(index * length, length), image, size, augmentation.Background,
                augmentation.Draw(seed, epoch, index));
            if (augmentation.Noise > 0)
                for (int pixel = 0; pixel < length; pixel++)
                    image[pixel] += augmentation.NoiseAt(seed, epoch, index, pixel);
        }
    }

    /// <summary>
    /// Rotates by <paramref name="angle"/> (radians; positive turns the digit clockwise on screen), scales by
    /// <paramref name="zoom"/> and shifts by (<paramref name="dx"/>, <paramref name="dy"/>) pixels, about the centre.
    /// </summary>
    public static void Transform(ReadOnlySpan<float> source, Span<float> destination, int size, float background,
        float angle, float zoom, float dx, float dy) =>
        Transform(source, destination, size, background, AffineDraw.Create(angle, zoom, dx, dy));

    internal static void Transform(ReadOnlySpan<float> source, Span<float> destination, int size, float background,
        in AffineDraw draw)
    {
        SpanLength.RequireSame(source.Length, size * size, nameof(source), "size²");
        SpanLength.RequireSame(destination.Length, size * size, nameof(destination), "size²");
        float centre = AffineDraw.Centre(size);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                float sx = draw.SourceX(x, y, centre), sy = draw.SourceY(x, y, centre);
                float x0 = MathF.Floor(sx), y0 = MathF.Floor(sy);
                int left = (int)x0, top = (int)y0;
                destination[y * size + x] = AffineDraw.Blend(
                    At(source, size, left, top, background), At(source, size, left + 1, top, background),
                    At(source, size, left, top + 1, background), At(source, size, left + 1, top + 1, background),
                    sx - x0, sy - y0);
            }
    }

    private static float At(ReadOnlySpan<float> image, int size, int x, int y, float background) =>
        x < 0 || y < 0 || x >= size || y >= size ? background : image[y * size + x];
}
