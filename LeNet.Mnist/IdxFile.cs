namespace LeNet.Mnist;

/// <summary>
/// The decoded contents of an unsigned-byte IDX file: its dimensions (outermost first, e.g.
/// [count, rows, columns]) and the payload in row-major order.
/// </summary>
public sealed class IdxFile
{
    public IdxFile(string name, int[] dimensions, byte[] data, byte[] sha256)
    {
        Name = name;
        Dimensions = dimensions;
        Data = data;
        Sha256 = sha256;
    }

    /// <summary>Where the bytes came from (a path, or a description such as a URL); used in error messages.</summary>
    public string Name { get; }

    public IReadOnlyList<int> Dimensions { get; }

    /// <summary>The payload after the header; its length is the product of <see cref="Dimensions"/>.</summary>
    public byte[] Data { get; }

    /// <summary>SHA-256 of the whole decompressed file, header included, as published checksums are.</summary>
    public byte[] Sha256 { get; }

    /// <summary>The number of items: the outermost dimension.</summary>
    public int Count => Dimensions[0];
}
