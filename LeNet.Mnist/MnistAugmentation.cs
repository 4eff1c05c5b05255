namespace LeNet.Mnist;

/// <summary>
/// Random small distortions of preprocessed digits, as practitioners train MNIST to survive rotated, shifted or noisy
/// input: a rotation, a shift and a scale about the image's centre (bilinear, the background filled with the value a
/// white pixel has after normalisation), then Gaussian noise. Each image's draw comes from
/// <c>new Random(Hash(seed, epoch, index))</c> alone, so any batch of any epoch is the same in a resumed run.
/// </summary>
/// <param name="Degrees">The largest rotation either way.</param>
/// <param name="Shift">The largest shift along each axis, in pixels.</param>
/// <param name="Scale">The largest relative change of size (0.1: 90 % to 110 %).</param>
/// <param name="Noise">The standard deviation of the added noise, in normalised units.</param>
public sealed record MnistAugmentation(double Degrees = 10, double Shift = 2, double Scale = 0.1, double Noise = 0)
{
    /// <summary>Distorts image <paramref name="index"/> of <paramref name="source"/> (side <paramref name="size"/>,
    /// background <paramref name="background"/>) into <paramref name="destination"/>.</summary>
    public void Apply(ReadOnlySpan<float> source, Span<float> destination, int size, float background, int seed,
        int epoch, int index)
    {
        if (source.Length != size * size || destination.Length != size * size)
            throw new ArgumentException($"An image of side {size} has {size * size} values.");
        var random = new Random(unchecked((seed * 1_000_003 + epoch) * 999_983 + index));
        var angle = (2 * random.NextDouble() - 1) * Degrees * Math.PI / 180;
        var zoom = 1 + (2 * random.NextDouble() - 1) * Scale;
        double dx = (2 * random.NextDouble() - 1) * Shift, dy = (2 * random.NextDouble() - 1) * Shift;
        Transform(source, destination, size, background, angle, zoom, dx, dy);
        if (Noise > 0)
            for (var i = 0; i < destination.Length; i++)
            {
                // Box–Muller: one normal draw from two uniform ones.
                var radius = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
                var normal = radius * Math.Cos(2 * Math.PI * random.NextDouble());
                destination[i] += (float)(Noise * normal);
            }
    }

    /// <summary>Rotates by <paramref name="angle"/> (radians; positive turns the digit clockwise on screen), scales by
    /// <paramref name="zoom"/> and shifts by (<paramref name="dx"/>, <paramref name="dy"/>) pixels, about the centre:
    /// each output pixel samples the source, bilinearly, at the inverse transform of its position.</summary>
    internal static void Transform(ReadOnlySpan<float> source, Span<float> destination, int size, float background,
        double angle, double zoom, double dx, double dy)
    {
        double cos = Math.Cos(angle) / zoom, sin = Math.Sin(angle) / zoom, centre = (size - 1) / 2.0;
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
            {
                double u = x - centre - dx, v = y - centre - dy;
                double sx = cos * u + sin * v + centre, sy = -sin * u + cos * v + centre;
                destination[y * size + x] = Sample(source, size, sx, sy, background);
            }
    }

    private static float Sample(ReadOnlySpan<float> image, int size, double x, double y, float background)
    {
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        double fx = x - x0, fy = y - y0;
        return (float)((1 - fy) * ((1 - fx) * At(image, size, x0, y0, background)
                + fx * At(image, size, x0 + 1, y0, background))
            + fy * ((1 - fx) * At(image, size, x0, y0 + 1, background)
                + fx * At(image, size, x0 + 1, y0 + 1, background)));
    }

    private static float At(ReadOnlySpan<float> image, int size, int x, int y, float background) =>
        x < 0 || y < 0 || x >= size || y >= size ? background : image[y * size + x];
}
