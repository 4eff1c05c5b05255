using LeNet.Core.Files;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace LeNet.Core.Serialization;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors), float32 only: an 8-byte
/// little-endian header length, a UTF-8 JSON header mapping each name to {dtype, shape, data_offsets} plus an optional
/// "__metadata__" string map, then the raw little-endian tensor bytes. PyTorch, NumPy and most tools read it.
/// Writes are atomic: a temporary file beside the target is written, flushed, then renamed over it.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100 << 20;

    public static void Save(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.ToList();
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in entries)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += 4L * tensor.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // The format pads the header with spaces to a multiple of 8 so the data is aligned.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, header.Length);
            stream.Write(length);
            header.Position = 0;
            header.CopyTo(stream);
            foreach (var (_, tensor) in entries)
            {
                if (!BitConverter.IsLittleEndian)
                    throw new PlatformNotSupportedException("Saving needs a little-endian machine.");
                stream.Write(MemoryMarshal.AsBytes(tensor.HostValues()));
            }
        });
    }

    public static (Dictionary<string, (int[] Shape, float[] Values)> Tensors,
        Dictionary<string, string> Metadata) Load(string path)
    {
        byte[] bytes;
        try { bytes = ReadableFile.ReadAllBytes(path, MaxFileBytes); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"Cannot read the model file {path} ({e.Message.TrimEnd('.')}).", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>
    /// <paramref name="path"/> names the file in messages. Whatever the bytes, the result is the tensors or a
    /// <see cref="ModelFormatException"/>, and nothing larger than the bytes is allocated.
    /// </summary>
    public static (Dictionary<string, (int[] Shape, float[] Values)> Tensors,
        Dictionary<string, string> Metadata) Parse(byte[] bytes, string path)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 8) throw Corrupt(path, "it is shorter than the 8-byte header length");
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > bytes.Length - 8)
            throw bytes[0] == OnnxFirstByte
                ? new ModelFormatException($"The model file {path} is an ONNX model (as export --onnx writes), " +
                    "which is for other runtimes; pass the model.safetensors that train wrote.")
                : Corrupt(path, $"its first 8 bytes give a header of {headerLength:N0} bytes, but " +
                    (headerLength < 2 || headerLength > MaxHeaderBytes ? "a header must be 2 to " +
                        $"{MaxHeaderBytes:N0} bytes" : $"only {bytes.Length - 8:N0} bytes follow them"));
        var data = bytes.AsSpan(8 + (int)headerLength);
        var tensors = new Dictionary<string, (int[], float[])>();
        var metadata = new Dictionary<string, string>();
        var ranges = new List<(long Begin, long End)>();
        try
        {
            using var document = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    foreach (var m in property.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                // Names end up in messages (a model that does not fit names them), which must stay one line.
                if (property.Name.Any(char.IsControl))
                    throw Corrupt(path,
                        $"the tensor name {FileText.Printable(property.Name)} holds a control character");
                var entry = property.Value;
                var dtype = entry.GetProperty("dtype").GetString();
                if (dtype != "F32")
                    throw Corrupt(path, $"tensor {property.Name} has dtype {dtype}; only F32 is supported");
                var shape = entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
                var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                long count = 1;
                foreach (var d in shape)
                {
                    if (d < 0) throw Corrupt(path, $"tensor {property.Name} has a negative dimension");
                    count *= d;
                    if (count > data.Length) break;
                }
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > data.Length
                    || offsets[1] - offsets[0] != 4 * count)
                    throw Corrupt(path, $"tensor {property.Name}'s data range does not fit its shape or the file");
                var values = MemoryMarshal.Cast<byte, float>(data[(int)offsets[0]..(int)offsets[1]]).ToArray();
                if (NonFinite(values) is { } at)
                    throw new ModelFormatException($"The model file {path} holds {values[at]} at element {at} of " +
                        $"tensor {property.Name}; a model with weights that are not finite " +
                        "numbers cannot predict, so use a model from a run that did not diverge.");
                tensors[property.Name] = (shape, values);
                ranges.Add((offsets[0], offsets[1]));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException
            or FormatException)
        {
            throw Corrupt(path, "its header is not valid safetensors JSON", e);
        }
        ranges.Sort();
        for (var i = 1; i < ranges.Count; i++)
            if (ranges[i].Begin < ranges[i - 1].End) throw Corrupt(path, "two tensors overlap");
        return (tensors, metadata);
    }

    // An ONNX file is a protobuf ModelProto, whose first field is ir_version (field 1, varint): the byte 0x08.
    private const byte OnnxFirstByte = 0x08;

    // LeNet's models are a few hundred kilobytes; a file past this is not one of them.
    private const long MaxFileBytes = 256L << 20;

    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or null.</summary>
    internal static int? NonFinite(ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return null;
    }

    private static ModelFormatException Corrupt(string path, string why, Exception? inner = null) =>
        new($"The model file {path} is not a valid safetensors file: {why}. Use a file written by LeNet.Train, or " +
            "train again.", inner);
}
