using System.Buffers.Binary;

namespace LeNet.Mnist;

/// <summary>
/// Encodes unsigned-byte IDX files, raw, as <see cref="IdxReader"/> reads them back: the image-folder cache stores the
/// converted images in MNIST's own format, so that they load through the same checks as MNIST's files.
/// </summary>
public static class IdxWriter
{
    /// <summary>The file bytes: magic 0x0000080D (D = the number of dimensions), each dimension as a big-endian int32,
    /// then <paramref name="data"/>, whose length must be the product of <paramref name="dimensions"/>.</summary>
    public static byte[] Encode(IReadOnlyList<int> dimensions, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        if (dimensions.Count is < 1 or > 255 || dimensions.Any(d => d < 1))
            throw new ArgumentException("An IDX file has 1 to 255 positive dimensions.", nameof(dimensions));
        if (dimensions.Aggregate(1L, (product, d) => product * d) != data.Length)
            throw new ArgumentException(
                $"{data.Length} bytes do not fill dimensions [{string.Join(", ", dimensions)}].", nameof(data));
        var header = 4 + 4 * dimensions.Count;
        var bytes = new byte[header + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x0800 | dimensions.Count);
        for (var i = 0; i < dimensions.Count; i++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dimensions[i]);
        data.CopyTo(bytes.AsSpan(header));
        return bytes;
    }
}
