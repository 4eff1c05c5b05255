using LeNet.Core.Files;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LeNet.Core.Serialization;

/// <summary>
/// A training checkpoint: named float32 tensors (weights, buffers, optimiser moments ...) and string metadata, in
/// one self-checking binary file, written atomically (temporary file, flushed, renamed over the last one).
/// </summary>
/// <remarks>
/// Layout, little-endian: the magic <c>LENETCKP</c> (8 bytes), the format version (uint32), the payload length
/// (int64: bytes from offset 20 to the checksum), the header length (int32), the UTF-8 JSON header
/// <c>{"model": name, "tensors": [{"name", "shape"}...], "metadata": {string: string}}</c>, the tensors' values in
/// header order, and finally the SHA-256 of everything before it (32 bytes). The magic and version come first so
/// that a file of another version is named as such rather than as corrupt; the payload length tells a truncated
/// file from a damaged one.
/// </remarks>
public sealed class Checkpoint
{
    public const string Magic = "LENETCKP";
    public const int FormatVersion = 1;
    private const int PrefixLength = 20;
    private const int ChecksumLength = 32;
    private const int MaxHeaderBytes = 64 << 20;

    private Checkpoint(string model, List<(string Name, int[] Shape, float[] Values)> tensors,
        Dictionary<string, string> metadata) => (Model, Tensors, Metadata) = (model, tensors, metadata);

    /// <summary>The model variant the tensors belong to, e.g. <c>lenet5</c>.</summary>
    public string Model { get; }

    /// <summary>The tensors in the order they were saved.</summary>
    public IReadOnlyList<(string Name, int[] Shape, float[] Values)> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors whose names start with <paramref name="prefix"/>, keyed by the rest of the name.</summary>
    public Dictionary<string, (int[] Shape, float[] Values)> WithPrefix(string prefix) =>
        Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(t => t.Name[prefix.Length..], t => (t.Shape, t.Values));

    public static void Save(string path, string model, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Checkpoints need a little-endian machine.");
        var entries = tensors.ToList();
        var names = new HashSet<string>();
        foreach (var (name, _) in entries)
            if (!names.Add(name))
                throw new ArgumentException($"The tensor name {name} appears twice.", nameof(tensors));

        using var headerStream = new MemoryStream();
        using (var json = new Utf8JsonWriter(headerStream))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteStartArray("tensors");
            foreach (var (name, tensor) in entries)
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteStartArray("shape");
                foreach (var d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("metadata");
            foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        var header = headerStream.ToArray();
        var payloadLength = 4L + header.Length + entries.Sum(e => 4L * e.Tensor.Length);

        AtomicFile.Write(path, stream =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            void Put(ReadOnlySpan<byte> bytes)
            {
                hash.AppendData(bytes);
                stream.Write(bytes);
            }

            Span<byte> prefix = stackalloc byte[PrefixLength + 4];
            Encoding.ASCII.GetBytes(Magic, prefix);
            BinaryPrimitives.WriteUInt32LittleEndian(prefix[8..], FormatVersion);
            BinaryPrimitives.WriteInt64LittleEndian(prefix[12..], payloadLength);
            BinaryPrimitives.WriteInt32LittleEndian(prefix[20..], header.Length);
            Put(prefix);
            Put(header);
            foreach (var (_, tensor) in entries) Put(MemoryMarshal.AsBytes(tensor.HostValues()));
            stream.Write(hash.GetHashAndReset());
        });
    }

    public static Checkpoint Load(string path)
    {
        byte[] bytes;
        try { bytes = ReadableFile.ReadAllBytes(path, MaxFileBytes); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"Cannot read the checkpoint {path} ({e.Message.TrimEnd('.')}).", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>
    /// <paramref name="path"/> names the file in messages. Whatever the bytes, the result is a checkpoint or a
    /// <see cref="CheckpointException"/> of one sentence, and nothing larger than the bytes is allocated.
    /// </summary>
    public static Checkpoint Parse(byte[] bytes, string path)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var magic = Encoding.ASCII.GetBytes(Magic);
        var comparable = Math.Min(bytes.Length, magic.Length);
        if (!bytes.AsSpan(0, comparable).SequenceEqual(magic.AsSpan(0, comparable)))
            throw new CheckpointException(
                $"{path} is not a LeNet checkpoint (it does not begin with {Magic}); use a checkpoint written by " +
                "LeNet.Train.");
        if (bytes.Length < 12) throw Truncated(path, bytes.Length, null);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (version != FormatVersion)
            throw new CheckpointException(
                $"The checkpoint {path} has format version {version}, but this build reads version {FormatVersion}; " +
                "use the build that wrote it, or train again.");
        if (bytes.Length < PrefixLength) throw Truncated(path, bytes.Length, null);
        var payloadLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
        if (payloadLength < 4 || payloadLength > Array.MaxLength)
            throw Corrupt(path, $"its header claims a payload of {payloadLength} bytes");
        var expectedLength = PrefixLength + payloadLength + ChecksumLength;
        if (bytes.Length < expectedLength) throw Truncated(path, bytes.Length, expectedLength);
        if (bytes.Length > expectedLength)
            throw Corrupt(path, $"it has {bytes.Length - expectedLength} bytes more than its header says");
        var body = bytes.AsSpan(0, (int)(PrefixLength + payloadLength));
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(body.Length, ChecksumLength)))
            throw Corrupt(path, "its SHA-256 checksum does not match its contents");

        // Past the checksum the content is what was written; these checks guard against a writer's bug.
        var headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(PrefixLength));
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > payloadLength - 4)
            throw Corrupt(path, $"its header length {headerLength} does not fit the file");
        var data = body[(PrefixLength + 4 + headerLength)..];
        try
        {
            using var document = JsonDocument.Parse(bytes.AsMemory(PrefixLength + 4, headerLength));
            var root = document.RootElement;
            var model = root.GetProperty("model").GetString() ?? throw Corrupt(path, "it names no model");
            if (model.Any(char.IsControl)) throw Corrupt(path, "its model name holds a control character");
            var metadata = new Dictionary<string, string>();
            foreach (var entry in root.GetProperty("metadata").EnumerateObject())
                if (!metadata.TryAdd(entry.Name, entry.Value.GetString() ?? ""))
                    throw Corrupt(path, $"the metadata key {FileText.Printable(entry.Name)} appears twice");
            var tensors = new List<(string, int[], float[])>();
            var names = new HashSet<string>();
            var offset = 0;
            foreach (var entry in root.GetProperty("tensors").EnumerateArray())
            {
                var name = entry.GetProperty("name").GetString() ?? "";
                // Names end up in messages (a model that does not fit names them), which must stay one line.
                if (name.Any(char.IsControl))
                    throw Corrupt(path, $"the tensor name {FileText.Printable(name)} holds a control character");
                if (!names.Add(name)) throw Corrupt(path, $"the tensor name {FileText.Printable(name)} appears twice");
                var shape = entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
                long count = 1;
                foreach (var d in shape)
                    if (d < 0 || (count *= d) > data.Length)
                        throw Corrupt(path, $"tensor {name}'s shape does not fit the file");
                if (offset + 4 * count > data.Length)
                    throw Corrupt(path, $"tensor {name}'s values run past the end of the file");
                var values = MemoryMarshal.Cast<byte, float>(data.Slice(offset, (int)(4 * count))).ToArray();
                // A checkpoint is only written after a step whose loss was finite, so this is a damaged file, not a
                // learning rate to lower.
                if (SafeTensors.NonFinite(values) is { } at)
                    throw Corrupt(path, $"tensor {name} holds {values[at]} at element {at}");
                tensors.Add((name, shape, values));
                offset += (int)(4 * count);
            }
            if (offset != data.Length) throw Corrupt(path, $"{data.Length - offset} bytes follow the last tensor");
            return new Checkpoint(model, tensors, metadata);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException
            or FormatException)
        {
            throw Corrupt(path, "its header is not the JSON this format expects", e);
        }
    }

    // A checkpoint is the model and Adam's two moments: about a megabyte for LeNet; a file past this is not one.
    private const long MaxFileBytes = 1L << 30;

    private static CheckpointException Truncated(string path, long actual, long? expected) =>
        new($"The checkpoint {path} is truncated ({actual:N0} bytes{(expected is { } e ? $" of {e:N0}" : "")}), as " +
            "by a crash or an interrupted copy; use an intact checkpoint, or train again.");

    private static CheckpointException Corrupt(string path, string why, Exception? inner = null) =>
        new($"The checkpoint {path} is corrupt ({why}); use an intact checkpoint, or train again.", inner);
}
