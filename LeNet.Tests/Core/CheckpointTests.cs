using System.Buffers.Binary;
using LeNet.Core;
using LeNet.Core.Serialization;
using LeNet.Tests.Train;

namespace LeNet.Tests.Core;

public class CheckpointTests
{
    private static readonly (string, Tensor)[] Tensors =
    [
        ("model.weight", Tensor.FromArray([1f, -2.5f, 3e-8f, float.MaxValue, -0f, 6f], 2, 3)),
        ("model.bias", Tensor.FromArray([0.125f, -7f], 2)),
        ("empty", Tensor.Zeros(0)),
    ];

    private static string Write(TemporaryFolder folder, string name = "c.lenetckpt")
    {
        var path = Path.Combine(folder.Path, name);
        Checkpoint.Save(path, "lenet5", Tensors,
            new Dictionary<string, string> { ["epoch"] = "3", ["note"] = "ünïcode ✓" });
        return path;
    }

    [Fact]
    public void A_checkpoint_round_trips_every_tensor_bit_for_bit_with_its_metadata_and_leaves_no_temporary_file()
    {
        using var folder = new TemporaryFolder();
        var path = Write(folder);
        var loaded = Checkpoint.Load(path);
        Assert.Equal("lenet5", loaded.Model);
        Assert.Equal(["model.weight", "model.bias", "empty"], loaded.Tensors.Select(t => t.Name));
        for (var i = 0; i < Tensors.Length; i++)
        {
            Assert.Equal(Tensors[i].Item2.Shape.ToArray(), loaded.Tensors[i].Shape);
            Assert.Equal(Tensors[i].Item2.ToArray().Select(BitConverter.SingleToInt32Bits),
                loaded.Tensors[i].Values.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal("ünïcode ✓", loaded.Metadata["note"]);
        Assert.Equal(["bias", "weight"], loaded.WithPrefix("model.").Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["c.lenetckpt"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
        // The layout: magic, version 1, then the payload length that accounts for every byte but the 20 before and 32
        // after.
        var bytes = File.ReadAllBytes(path);
        Assert.Equal("LENETCKP"u8.ToArray(), bytes[..8]);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(bytes.Length - 52, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12)));
    }

    [Theory]
    [InlineData(0, "is truncated (0 bytes)")]
    [InlineData(5, "is truncated (5 bytes)")]
    [InlineData(16, "is truncated (16 bytes)")]
    [InlineData(-1, "is truncated")]
    [InlineData(-32, "is truncated")]
    [InlineData(-100, "is truncated")]
    public void A_truncated_checkpoint_is_refused_as_truncated(int keep, string expected)
    {
        using var folder = new TemporaryFolder();
        var path = Write(folder);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(keep >= 0 ? keep : bytes.Length + keep)]);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Equal($"The checkpoint {path} {expected}", error.Message[..$"The checkpoint {path} {expected}".Length]);
        Assert.EndsWith("use an intact checkpoint, or train again.", error.Message);
    }

    [Fact]
    public void A_flipped_bit_anywhere_past_the_prefix_is_refused_as_corrupt()
    {
        using var folder = new TemporaryFolder();
        var path = Write(folder);
        var original = File.ReadAllBytes(path);
        foreach (var position in new[] { 21, 40, original.Length - 80, original.Length - 40, original.Length - 1 })
        {
            var bytes = (byte[])original.Clone();
            bytes[position] ^= 0x10;
            File.WriteAllBytes(path, bytes);
            var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
            Assert.Equal(
                $"The checkpoint {path} is corrupt (its SHA-256 checksum does not match its contents); use an intact " +
                    "checkpoint, or train again.",
                error.Message);
        }
        File.WriteAllBytes(path, [.. original, 0]);
        Assert.Contains("is corrupt (it has 1 bytes more than its header says)",
            Assert.Throws<CheckpointException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void Another_format_version_is_named_as_such()
    {
        using var folder = new TemporaryFolder();
        var path = Write(folder);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 2);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Equal(
            $"The checkpoint {path} has format version 2, but this build reads version 1; use the build that " +
                "wrote it, or train again.",
            error.Message);
    }

    [Fact]
    public void A_file_of_another_kind_is_not_a_checkpoint()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "model.safetensors");
        SafeTensors.Save(path, Tensors.Take(2));
        var error = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.Equal(
            $"{path} is not a LeNet checkpoint (it does not begin with LENETCKP); use a checkpoint " +
                "written by LeNet.Train.",
            error.Message);
    }
}
