using System.Buffers.Binary;
using System.IO.Compression;

namespace LeNet.Tests.Mnist;

/// <summary>Builds IDX files byte by byte, including malformed ones, for the reader tests.</summary>
public static class IdxBytes
{
    /// <summary>A header with the given magic number and dimensions, followed by <paramref name="payload"/> as
    /// is.</summary>
    public static byte[] Build(int magic, int[] dimensions, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[4 + 4 * dimensions.Length + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dimensions.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dimensions[i]);
        payload.CopyTo(bytes.AsSpan(4 + 4 * dimensions.Length));
        return bytes;
    }

    public static byte[] Images(int count, int size, byte[] pixels) => Build(0x803, [count, size, size], pixels);

    public static byte[] Labels(byte[] labels) => Build(0x801, [labels.Length], labels);

    public static byte[] Gzip(ReadOnlySpan<byte> bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(bytes);
        return buffer.ToArray();
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
