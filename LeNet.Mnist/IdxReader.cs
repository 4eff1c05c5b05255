using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using LeNet.Core.Files;

namespace LeNet.Mnist;

/// <summary>
/// Reads unsigned-byte IDX files, raw or gzip-compressed. Compression is recognised by the gzip magic
/// bytes (1f 8b), not by the file name, and must be one gzip member, as gzip writes. A malformed file is refused before
/// it can cost more memory than its header justifies: raw files are checked against their size before the payload is
/// allocated, and gzip streams are decompressed to at most the size the header claims plus one byte, into a buffer that
/// grows only as decompressed data actually arrives.
/// </summary>
public static class IdxReader
{
    /// <summary>Unsigned bytes, three dimensions: [count, rows, columns].</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Unsigned bytes, one dimension: [count].</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>
    /// The largest item count (outermost dimension) accepted. Ten million is far beyond any dataset in
    /// this format, so a larger claim is a damaged header, and refusing it keeps a lying header from
    /// making the labels reader allocate gigabytes.
    /// </summary>
    public const int MaxItems = 10_000_000;

    /// <summary>The largest payload accepted, in bytes: the most one array can hold (just under 2^31).</summary>
    public static long MaxPayloadBytes => Array.MaxLength;

    private const int UnsignedByteType = 0x08;

    public static IdxFile ReadImages(string path) => Read(path, ImagesMagic);

    public static IdxFile ReadLabels(string path) => Read(path, LabelsMagic);

    /// <summary>
    /// Reads the IDX file at <paramref name="path"/>, which must carry <paramref name="expectedMagic"/>.
    /// </summary>
    public static IdxFile Read(string path, int expectedMagic)
    {
        FileStream file;
        try
        {
            file = ReadableFile.Open(path, MaxPayloadBytes + 4 + 4 * 255);
        }
        catch (FileRefusedException ex)
        {
            throw new MnistDataException($"{path}: cannot be read ({ex.Message}); put the IDX file itself there.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MnistDataException($"{path}: cannot be opened ({ex.Message}); check that the file exists " +
                "and is readable.", ex);
        }
        using (file)
            return Read(file, path, expectedMagic);
    }

    /// <summary>
    /// Reads an IDX file from a seekable <paramref name="stream"/>, from its current position to its end.
    /// <paramref name="name"/> identifies the source in error messages.
    /// </summary>
    public static IdxFile Read(Stream stream, string name, int expectedMagic)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
            throw new ArgumentException("The stream must be seekable, so that compression can be detected and the " +
                "size checked.", nameof(stream));

        try
        {
            long start = stream.Position;
            Span<byte> signature = stackalloc byte[2];
            int signatureLength = stream.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
            stream.Position = start;
            bool gzip = signatureLength == 2 && signature[0] == 0x1f && signature[1] == 0x8b;

            if (!gzip)
                return ReadDecompressed(stream, name, expectedMagic, rawLength: stream.Length - start,
                    compressedLength: null);
            IdxFile file;
            using (var decompressed = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true))
                file = ReadDecompressed(decompressed, name, expectedMagic, rawLength: null,
                    compressedLength: stream.Length - start);
            CheckGzipEnd(stream, start, name, 4L + 4 * file.Dimensions.Count + file.Data.Length);
            return file;
        }
        catch (InvalidDataException ex)
        {
            throw Damaged(name, $"the gzip stream is corrupt ({ex.Message})", ex);
        }
        catch (IOException ex)
        {
            throw new MnistDataException($"{name}: cannot be read ({ex.Message}); check that the file is " +
                "intact and readable.", ex);
        }
    }

    /// <param name="rawLength">The byte count of an uncompressed source, checked before allocating; null for a
    /// decompressing stream.</param>
    /// <param name="compressedLength">The byte count of the compressed file behind a decompressing stream; null for an
    /// uncompressed one.</param>
    private static IdxFile ReadDecompressed(Stream source, string name, int expectedMagic, long? rawLength,
        long? compressedLength)
    {
        Span<byte> magicBytes = stackalloc byte[4];
        ReadHeader(source, magicBytes, name);
        int magic = BinaryPrimitives.ReadInt32BigEndian(magicBytes);
        int expectedDimensions = expectedMagic & 0xFF;
        if (magicBytes[0] != 0 || magicBytes[1] != 0 || magicBytes[2] != UnsignedByteType)
            throw Damaged(name,
                $"the magic number is 0x{magic:X8}, not 0x{expectedMagic:X8}, so it is not an unsigned-byte IDX file");
        int dimensionCount = magicBytes[3];
        if (dimensionCount != expectedDimensions)
            throw new MnistDataException($"{name}: the magic number 0x{magic:X8} declares {dimensionCount} " +
                $"dimensions where 0x{expectedMagic:X8} ({expectedDimensions}) was expected",
                "check that the images and labels files are not swapped, or replace the file with an intact copy.");

        Span<byte> dimensionBytes = stackalloc byte[4 * dimensionCount];
        ReadHeader(source, dimensionBytes, name);
        var dimensions = new int[dimensionCount];
        for (int i = 0; i < dimensionCount; i++)
        {
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(dimensionBytes[(4 * i)..]);
            if (dimensions[i] <= 0)
                throw Damaged(name,
                    $"dimension {i} of the header is {dimensions[i]}, but every dimension must be positive");
        }
        if (dimensions[0] > MaxItems)
            throw Damaged(name,
                $"the header claims {dimensions[0]:N0} items, more than the {MaxItems:N0} this reader accepts");

        // Multiply with a bound check at each step: three dimensions near 2^31 would overflow a long.
        long payloadLength = 1;
        foreach (int dimension in dimensions)
        {
            if (payloadLength > MaxPayloadBytes / dimension)
                throw Damaged(name,
                    $"the header claims [{string.Join(", ", dimensions)}] = more than {MaxPayloadBytes:N0} bytes of " +
                        "data, more than this reader accepts");
            payloadLength *= dimension;
        }

        long headerLength = 4 + dimensionBytes.Length;
        if (rawLength is long length)
        {
            long actual = length - headerLength;
            if (actual < payloadLength)
                throw Damaged(name,
                    $"the data is truncated: the header declares {payloadLength:N0} bytes after it but the " +
                        $"file holds {actual:N0}");
            if (actual > payloadLength)
                throw Damaged(name,
                    $"the file has trailing data: the header declares {payloadLength:N0} bytes after it but the " +
                        $"file holds {actual:N0}");
        }

        byte[] data = ReadPayload(source, (int)payloadLength, compressedLength);
        if (data.Length < payloadLength)
            throw Damaged(name,
                $"the data is truncated: the header declares {payloadLength:N0} bytes after it but only " +
                    $"{data.Length:N0} follow");
        // One byte past the declared size is all we ever decompress, so a gzip bomb costs nothing.
        if (source.ReadByte() >= 0)
            throw Damaged(name,
                $"the file has trailing data: it holds more than the {payloadLength:N0} bytes its header declares");

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(magicBytes);
        hash.AppendData(dimensionBytes);
        hash.AppendData(data);
        return new IdxFile(name, dimensions, data, hash.GetHashAndReset());
    }

    /// <summary>
    /// Reads up to <paramref name="length"/> bytes; the result is shorter only if the stream ends first.
    /// A compressed stream gets a buffer sized from its compressed length that grows only as data
    /// actually arrives, so a header that lies about a large size costs little memory.
    /// </summary>
    private static byte[] ReadPayload(Stream source, int length, long? compressedLength)
    {
        // MNIST compresses about 5:1; 16:1 plus a margin covers it in one allocation.
        int capacity = compressedLength is long compressed ? (int)Math.Min(length,
            Math.Max(1L << 20, 16 * compressed)) : length;
        var data = new byte[capacity];
        int filled = 0;
        while (filled < length)
        {
            if (filled == data.Length)
                Array.Resize(ref data, (int)Math.Min(length, 2L * data.Length));
            int read = source.Read(data, filled, data.Length - filled);
            if (read == 0)
                break;
            filled += read;
        }
        if (filled < data.Length)
            Array.Resize(ref data, filled);
        return data;
    }

    /// <summary>
    /// The decompressor verifies a gzip member's CRC-32 and size only when it reaches them, and it takes the end of its
    /// input, or bytes that are not another member, as the end of the data. So a file cut inside its 8-byte trailer, or
    /// cut right after the compressed data, or followed by other bytes, would be read without complaint. The file's
    /// last four bytes must be the size of the decompressed contents (ISIZE, the size modulo 2^32), as they are when
    /// the file ends exactly with the member's trailer, which the decompressor has then checked.
    /// </summary>
    private static void CheckGzipEnd(Stream stream, long start, string name, long decompressedLength)
    {
        Span<byte> size = stackalloc byte[4];
        if (stream.Length - start < 18)
            throw Damaged(name, "the gzip stream is truncated: it is shorter than a gzip header and trailer");
        stream.Position = stream.Length - 4;
        stream.ReadExactly(size);
        uint declared = BinaryPrimitives.ReadUInt32LittleEndian(size);
        if (declared != (uint)decompressedLength)
            throw Damaged(name,
                "the gzip stream is truncated or followed by other data: the file does not end with the size of its " +
                    $"{decompressedLength:N0} decompressed bytes, as a single gzip member does");
    }

    private static void ReadHeader(Stream source, Span<byte> destination, string name)
    {
        if (source.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) < destination.Length)
            throw Damaged(name, "the file ends inside its IDX header");
    }

    private static MnistDataException Damaged(string name, string problem, Exception? inner = null)
    {
        return new MnistDataException($"{name}: {problem}",
            "replace it with an intact copy (for MNIST, delete it and it is downloaded again).", inner);
    }
}
