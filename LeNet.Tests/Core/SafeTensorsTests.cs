using System.Text;
using LeNet.Core.Models;
using LeNet.Core.Serialization;

namespace LeNet.Tests.Core;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lenet-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_saved_model_loads_back_with_names_shapes_values_and_metadata()
    {
        var model = new LeNet5(seed: 4);
        var path = Path.Combine(_folder, "model.safetensors");
        SafeTensors.Save(path, model.StateDict(), new Dictionary<string, string> { ["model"] = "lenet5" });

        var (tensors, metadata) = SafeTensors.Load(path);
        Assert.Equal("lenet5", metadata["model"]);
        Assert.Equal(model.StateDict().Select(e => e.Name).Order(), tensors.Keys.Order());
        foreach (var (name, tensor) in model.StateDict())
        {
            Assert.Equal(tensor.Shape.ToArray(), tensors[name].Shape);
            Assert.Equal(tensor.ToArray(), tensors[name].Values);
        }
        var restored = new LeNet5(seed: 5);
        restored.LoadStateDict(tensors);
        Assert.Equal(model.Fc2.Weight.ToArray(), restored.Fc2.Weight.ToArray());
        Assert.Equal([Path.GetFileName(path)], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Fact]
    public void The_header_follows_the_safetensors_layout()
    {
        var path = Path.Combine(_folder, "m.safetensors");
        SafeTensors.Save(path, new LeNet5().StateDict());
        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLength % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Contains("\"fc2.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[", header);
        Assert.Equal(8 + headerLength + 4L * 61_794, bytes.Length); // 61,750 parameters + 44 running statistics
    }

    [Fact]
    public void Truncated_or_corrupt_files_are_refused_with_a_clear_message()
    {
        var path = Path.Combine(_folder, "m.safetensors");
        SafeTensors.Save(path, new LeNet5().StateDict());
        var good = File.ReadAllBytes(path);

        var cases = new Dictionary<string, byte[]>
        {
            ["empty"] = [],
            ["truncated data"] = good[..(good.Length - 10)],
            ["truncated header"] = good[..100],
            ["huge header length"] = [.. BitConverter.GetBytes(long.MaxValue), .. good[8..]],
            ["not json"] = [.. good[..8], .. Enumerable.Repeat((byte)'x', good.Length - 8)],
        };
        foreach (var (what, bytes) in cases)
        {
            var broken = Path.Combine(_folder, "broken.safetensors");
            File.WriteAllBytes(broken, bytes);
            var error = Assert.Throws<ModelFormatException>(() => SafeTensors.Load(broken));
            Assert.Contains("broken.safetensors", error.Message);
        }
        Assert.Throws<ModelFormatException>(() => SafeTensors.Load(Path.Combine(_folder, "absent.safetensors")));
    }

    [Fact]
    public void A_failed_write_keeps_the_previous_file_and_leaves_no_temporary_file()
    {
        var path = Path.Combine(_folder, "metrics.json");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("partial"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_folder));
    }
}
