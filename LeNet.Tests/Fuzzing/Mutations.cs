using System.Buffers.Binary;

namespace LeNet.Tests.Fuzzing;

/// <summary>One damaged file: its bytes and how they were made, so that a failing case can be reproduced by
/// hand.</summary>
public sealed record Mutation(string Description, byte[] Bytes);

/// <summary>
/// Damaged variants of a valid file: every byte of a region set to a few telling values (byte by byte), and random
/// damage from a fixed seed (flipped bits, overwritten bytes and 32-bit fields, truncation, insertion, deletion,
/// appended garbage), so that a run is the same every time and a failure names the case that caused it.
/// </summary>
public static class Mutations
{
    /// <summary>
    /// Each position in [<paramref name="start"/>, <paramref name="end"/>) set to 0x00, 0xFF, 0x7F, 0x80, its value ± 1
    /// and its value with the low bit and the high bit flipped (the values that equal the original are skipped).
    /// </summary>
    public static IEnumerable<Mutation> EveryByte(byte[] original, int start, int end)
    {
        for (var position = start; position < Math.Min(end, original.Length); position++)
        {
            var old = original[position];
            foreach (var value in new HashSet<byte> { 0x00, 0xFF, 0x7F, 0x80, (byte)(old + 1), (byte)(old - 1),
                (byte)(old ^ 0x01), (byte)(old ^ 0x80) })
            {
                if (value == old) continue;
                var bytes = (byte[])original.Clone();
                bytes[position] = value;
                yield return new Mutation($"byte {position} 0x{old:X2} -> 0x{value:X2}", bytes);
            }
        }
    }

    /// <summary>
    /// Each position in [<paramref name="start"/>, <paramref name="end"/>) changed once, to one of the telling values
    /// or a random byte chosen from <paramref name="seed"/>: for a region too large to try every value at every byte.
    /// With a <paramref name="stride"/> above 1, only every stride-th position, for a file too costly to read thousands
    /// of times.
    /// </summary>
    public static IEnumerable<Mutation> EveryByteOnce(byte[] original, int start, int end, int seed, int stride = 1)
    {
        var random = new Random(seed);
        byte[] telling = [0x00, 0xFF, 0x7F, 0x80, (byte)'"', (byte)'{', (byte)']', (byte)'-', (byte)'9', (byte)'\\'];
        for (var position = start; position < Math.Min(end, original.Length); position += stride)
        {
            var old = original[position];
            var value = random.Next(3) == 0 ? (byte)(old ^ (1 << random.Next(8)))
                : telling[random.Next(telling.Length)];
            if (value == old) value ^= 0x01;
            var bytes = (byte[])original.Clone();
            bytes[position] = value;
            yield return new Mutation($"byte {position} 0x{old:X2} -> 0x{value:X2}", bytes);
        }
    }

    /// <summary><paramref name="count"/> positions spread evenly over [<paramref name="start"/>, end of file), each
    /// flipped in every bit.</summary>
    public static IEnumerable<Mutation> SampledBytes(byte[] original, int start, int count)
    {
        var length = original.Length - start;
        for (var i = 0; i < count && length > 0; i++)
        {
            var position = start + (int)((long)i * length / count);
            var bytes = (byte[])original.Clone();
            bytes[position] ^= 0xFF;
            yield return new Mutation($"byte {position} inverted", bytes);
        }
    }

    /// <summary>The file cut after each of its first <paramref name="prefix"/> bytes, and at a few places
    /// after.</summary>
    public static IEnumerable<Mutation> Truncations(byte[] original, int prefix)
    {
        var lengths = Enumerable.Range(0, Math.Min(prefix, original.Length))
            .Concat([original.Length / 3, original.Length / 2, original.Length - 33, original.Length - 32,
                original.Length - 1])
            .Where(n => n >= 0 && n < original.Length).Distinct();
        foreach (var length in lengths)
            yield return new Mutation($"truncated to {length} bytes", original[..length]);
    }

    /// <summary>
    /// <paramref name="count"/> random damages from <paramref name="seed"/>; half of the positions fall in the first
    /// <paramref name="header"/> bytes, where the structure is, and half anywhere.
    /// </summary>
    public static IEnumerable<Mutation> Random(byte[] original, int seed, int count, int header)
    {
        var random = new Random(seed);
        int Position(int length) => random.Next(2) == 0 ? random.Next(Math.Min(header, length)) : random.Next(length);
        int[] interesting = [0, 1, -1, 2, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, int.MaxValue, int.MinValue,
            1 << 24, 1 << 30, 10_000_000, 60_000];
        for (var i = 0; i < count; i++)
        {
            var bytes = (byte[])original.Clone();
            string description;
            switch (random.Next(7))
            {
                case 0:
                {
                    var flips = 1 + random.Next(8);
                    for (var k = 0; k < flips; k++) bytes[Position(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    description = $"{flips} bits flipped";
                    break;
                }
                case 1:
                {
                    var writes = 1 + random.Next(4);
                    for (var k = 0; k < writes; k++) bytes[Position(bytes.Length)] = (byte)random.Next(256);
                    description = $"{writes} bytes overwritten";
                    break;
                }
                case 2:
                {
                    var position = Math.Min(Position(bytes.Length), bytes.Length - 4);
                    var value = interesting[random.Next(interesting.Length)];
                    if (random.Next(2) == 0) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(position), value);
                    else BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(position), value);
                    description = $"32-bit field at {position} set to {value}";
                    break;
                }
                case 3:
                {
                    var length = Position(bytes.Length);
                    bytes = bytes[..length];
                    description = $"truncated to {length} bytes";
                    break;
                }
                case 4:
                {
                    var position = Position(bytes.Length);
                    var inserted = new byte[1 + random.Next(16)];
                    random.NextBytes(inserted);
                    bytes = [.. bytes[..position], .. inserted, .. bytes[position..]];
                    description = $"{inserted.Length} random bytes inserted at {position}";
                    break;
                }
                case 5:
                {
                    var position = Position(bytes.Length);
                    var deleted = Math.Min(1 + random.Next(16), bytes.Length - position);
                    bytes = [.. bytes[..position], .. bytes[(position + deleted)..]];
                    description = $"{deleted} bytes deleted at {position}";
                    break;
                }
                default:
                {
                    var appended = new byte[1 + random.Next(64)];
                    random.NextBytes(appended);
                    bytes = [.. bytes, .. appended];
                    description = $"{appended.Length} random bytes appended";
                    break;
                }
            }
            yield return new Mutation($"random case {i} (seed {seed}): {description}", bytes);
        }
    }
}
