// The ranges of the random distortions that augment training images, and the draw every implementation shares: each
// number is a hash of (seed, epoch, image index, draw number), so Reference, Cpu and Cuda draw the same values.
using ILGPU;

namespace LeNet.Kernels;

/// <summary>
/// Random small distortions of preprocessed square images, as practitioners train MNIST to survive rotated, shifted
/// or noisy digits: per image a rotation within ±<see cref="Degrees"/>, a zoom within 1 ± <see cref="Scale"/> and a
/// shift within ±<see cref="Shift"/> pixels along each axis, about the image's centre (sampled bilinearly, the outside
/// filled with <see cref="Background"/>), then Gaussian noise of standard deviation <see cref="Noise"/> per pixel.
/// Every number is drawn from a hash of (seed, epoch, image index, draw number), with no generator state: an image's
/// distortion depends on nothing else (not the batch, the order, the thread count or the device).
/// </summary>
/// <param name="Background">The value outside the image: a blank pixel's value after normalisation.</param>
/// <param name="Degrees">The largest rotation either way, in degrees (at most 180).</param>
/// <param name="Shift">The largest shift along each axis, in pixels.</param>
/// <param name="Scale">The largest relative change of size, below 1 (0.1: 90 % to 110 %).</param>
/// <param name="Noise">The standard deviation of the added noise, in normalised units; 0 for none.</param>
public readonly record struct Augmentation(
    float Background, float Degrees = 10, float Shift = 2, float Scale = 0.1f, float Noise = 0)
{
    /// <summary>Throws for ranges no distortion can have (negative, infinite, past 180°, a zoom reaching 0).</summary>
    public void Validate()
    {
        if (!float.IsFinite(Background))
            throw new ArgumentOutOfRangeException(nameof(Background), Background, "The background is a finite value.");
        if (!(Degrees >= 0 && Degrees <= 180))
            throw new ArgumentOutOfRangeException(nameof(Degrees), Degrees, "The rotation lies from 0 to 180 degrees.");
        if (!(Shift >= 0 && float.IsFinite(Shift)))
            throw new ArgumentOutOfRangeException(nameof(Shift), Shift, "The shift is a finite count of pixels, ≥ 0.");
        if (!(Scale >= 0 && Scale < 1))
            throw new ArgumentOutOfRangeException(nameof(Scale), Scale, "The scale lies in [0, 1): a zoom stays > 0.");
        if (!(Noise >= 0 && float.IsFinite(Noise)))
            throw new ArgumentOutOfRangeException(nameof(Noise), Noise, "The noise's deviation is finite and ≥ 0.");
    }

    /// <summary>
    /// The checks every kernel makes: the ranges, images [count, size·size], batch [indices.Length, size·size], and
    /// indices inside the images.
    /// </summary>
    internal void CheckBatch(int imagesLength, ReadOnlySpan<int> indices, int batchLength, int size)
    {
        Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        int length = size * size, count = imagesLength / length;
        if (imagesLength % length != 0)
            throw new ArgumentException($"{imagesLength} values are not whole images of {size}×{size}.", "images");
        SpanLength.RequireSame(batchLength, indices.Length * length, "batch", "indices × size²");
        foreach (int index in indices)
            if ((uint)index >= (uint)count)
                throw new ArgumentOutOfRangeException(nameof(indices), index,
                    $"An index lies outside the {count} images.");
    }

    /// <summary>The draw numbers of an image: the four of its transform, then two per pixel for its noise.</summary>
    internal const int AngleDraw = 0, ZoomDraw = 1, ShiftXDraw = 2, ShiftYDraw = 3, FirstNoiseDraw = 4;

    /// <summary>The transform of image <paramref name="index"/>: rotation, zoom and shift, in their ranges.</summary>
    internal AffineDraw Draw(int seed, int epoch, int index) => AffineDraw.Create(
        Signed(seed, epoch, index, AngleDraw) * (Degrees * (MathF.PI / 180f)),
        1f + Signed(seed, epoch, index, ZoomDraw) * Scale,
        Signed(seed, epoch, index, ShiftXDraw) * Shift,
        Signed(seed, epoch, index, ShiftYDraw) * Shift);

    /// <summary>The noise added to pixel <paramref name="pixel"/> of image <paramref name="index"/> (Box–Muller).
    /// </summary>
    internal float NoiseAt(int seed, int epoch, int index, int pixel)
    {
        int draw = FirstNoiseDraw + 2 * pixel;
        float u1 = Uniform(seed, epoch, index, draw), u2 = Uniform(seed, epoch, index, draw + 1);
        // ln via log2: the one logarithm ILGPU's PTX backend has (lg2.approx) without CUDA's libdevice.
        float radius = MathF.Sqrt(-2f * Ln2 * IntrinsicMath.CPUOnly.Log2(1f - u1));
        return Noise * (radius * IntrinsicMath.CPUOnly.Cos(2f * MathF.PI * u2));
    }

    private const float Ln2 = 0.693147180559945309f;

    /// <summary>Uniform in [−1, 1).</summary>
    internal static float Signed(int seed, int epoch, int index, int draw) =>
        2f * Uniform(seed, epoch, index, draw) - 1f;

    /// <summary>Uniform in [0, 1): the hash's top 24 bits, so every value is exact in float.</summary>
    internal static float Uniform(int seed, int epoch, int index, int draw) =>
        (Hash(seed, epoch, index, draw) >> 8) * (1f / (1 << 24));

    /// <summary>
    /// A counter-based draw: MurmurHash3's finaliser (a bijection of 32-bit values that mixes every bit) applied after
    /// folding in each number in turn, plus the golden ratio's constant so that zeros do not stay zero.
    /// </summary>
    internal static uint Hash(int seed, int epoch, int index, int draw)
    {
        uint hash = Mix((uint)seed + Golden);
        hash = Mix((hash ^ (uint)epoch) + Golden);
        hash = Mix((hash ^ (uint)index) + Golden);
        return Mix((hash ^ (uint)draw) + Golden);
    }

    private const uint Golden = 0x9E3779B9u;

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        return h ^ (h >> 16);
    }
}
