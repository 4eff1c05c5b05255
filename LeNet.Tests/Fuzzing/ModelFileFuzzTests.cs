using System.Buffers.Binary;
using System.Text;
using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Train;

namespace LeNet.Tests.Fuzzing;

/// <summary>
/// The safetensors reader, alone and as evaluate and predict use it (SavedModel: decode, rebuild the variant the
/// metadata names, load the weights), on damaged files: every case reads or ends in a ModelFormatException naming the
/// file, allocating no more than the file justifies.
/// </summary>
[Collection(nameof(FuzzingCollection))]
public class ModelFileFuzzTests
{
    private const string Name = "fuzzed.safetensors";

    private static readonly Lazy<byte[]> Small = new(() => Fuzzer.BytesWrittenBy(path => SafeTensors.Save(path,
        [("weight", Tensor.FromArray([1f, -2.5f, 3e-8f, float.MaxValue, -0f, 6f], 2, 3)),
            ("bias", Tensor.FromArray([0.125f, -7f], 2)), ("empty", Tensor.Zeros(0))],
        new Dictionary<string, string> { ["note"] = "ünïcode ✓" }), "m.safetensors"));

    /// <summary>A model file as the trainer writes it: LeNet-5's state dict and the metadata evaluate and predict
    /// read.</summary>
    private static readonly Lazy<byte[]> Model = new(() => Fuzzer.BytesWrittenBy(path => SafeTensors.Save(path,
        ModelVariants.Create("lenet5", seed: 2).StateDict(),
        new Dictionary<string, string>
        {
            ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = "lenet5", ["classes"] = "10",
            ["class_names"] = "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]",
            ["input"] = "[N, 1, 32, 32]",
        }), "m.safetensors"));

    private static int HeaderEnd(byte[] file) => 8 + (int)BinaryPrimitives.ReadInt64LittleEndian(file);

    private static void ReadTensors(byte[] bytes) => SafeTensors.Parse(bytes, Name);

    private static void ReadModel(byte[] bytes) => SavedModel.Parse(bytes, Name);

    [Fact(Timeout = 120_000)]
    public async Task Every_byte_of_a_small_files_header_changed_reads_or_is_refused()
    {
        await Task.Run(() =>
        {
            var small = Small.Value;
            var cases = Mutations.EveryByte(small, 0, HeaderEnd(small)).ToList();
            var report = Fuzzer.Run<ModelFormatException>(cases, Name, ReadTensors, Fuzzer.WholeFileLimit);
            report.AssertClean();
            Assert.True(report.Refused > cases.Count / 2,
                $"only {report.Refused} of {cases.Count} damaged headers were refused");
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 120_000)]
    public async Task Random_damage_and_truncation_of_a_small_file_reads_or_is_refused()
    {
        await Task.Run(() =>
        {
            var small = Small.Value;
            var random = Fuzzer.Run<ModelFormatException>(
                Mutations.Random(small, seed: 31, count: 2000, header: HeaderEnd(small)), Name, ReadTensors,
                Fuzzer.WholeFileLimit);
            var truncated = Fuzzer.Run<ModelFormatException>(Mutations.Truncations(small, small.Length), Name,
                ReadTensors, Fuzzer.WholeFileLimit);
            random.AssertClean();
            truncated.AssertClean();
            Assert.Equal(2000, random.Cases);
            Assert.True(random.Refused > random.Cases / 3, $"only {random.Refused} of {random.Cases} refused");
            Assert.Equal(truncated.Cases, truncated.Refused);
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_trained_models_file_damaged_reads_as_a_model_or_is_refused()
    {
        await Task.Run(() =>
        {
            var model = Model.Value;
            var header = HeaderEnd(model);
            var reports = new[]
            {
                Fuzzer.Run<ModelFormatException, CheckpointException>(
                    Mutations.EveryByteOnce(model, 0, header, seed: 41, stride: 2), Name, ReadModel,
                    Fuzzer.WholeFileLimit),
                Fuzzer.Run<ModelFormatException, CheckpointException>(
                    Mutations.Random(model, seed: 42, count: 300, header: header), Name, ReadModel,
                    Fuzzer.WholeFileLimit),
                Fuzzer.Run<ModelFormatException, CheckpointException>(Mutations.SampledBytes(model, header, 50), Name,
                    ReadModel, Fuzzer.WholeFileLimit),
                Fuzzer.Run<ModelFormatException, CheckpointException>(Mutations.Truncations(model, 24), Name, ReadModel,
                    Fuzzer.WholeFileLimit),
            };
            foreach (var report in reports) report.AssertClean();
            Assert.True(reports[0].Refused > reports[0].Cases / 2,
                $"only {reports[0].Refused} of {reports[0].Cases} damaged headers were refused");
            // A changed weight is still a model; a cut file never is.
            Assert.Equal(50, reports[2].Read);
            Assert.Equal(reports[3].Cases, reports[3].Refused);
        }, TestContext.Current.CancellationToken);
    }

    /// <summary>The model file with <paramref name="from"/> replaced by <paramref name="to"/> in its header (first
    /// occurrence), the header length adjusted.</summary>
    private static byte[] Edited(string from, string to)
    {
        var model = Model.Value;
        var header = Encoding.UTF8.GetString(model, 8, HeaderEnd(model) - 8);
        var at = header.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, $"the header holds no {from}");
        var edited = Encoding.UTF8.GetBytes(string.Concat(header.AsSpan(0, at), to, header.AsSpan(at + from.Length)));
        var bytes = new byte[8 + edited.Length + model.Length - HeaderEnd(model)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, edited.Length);
        edited.CopyTo(bytes, 8);
        model.AsSpan(HeaderEnd(model)).CopyTo(bytes.AsSpan(8 + edited.Length));
        return bytes;
    }

    public static TheoryData<string, string, string, string> HandMade => new()
    {
        { "an unknown model with a line break", "\"model\":\"lenet5\"", "\"model\":\"lenet\\nfive\"",
            "holds model 'lenet\\u000afive'" },
        { "a model name of 10,000 characters", "\"model\":\"lenet5\"", $"\"model\":\"{new string('x', 10_000)}\"",
            "which this build does not know" },
        { "no model named", "\"model\":\"lenet5\"", "\"modell\":\"lenet5\"", "does not say which model it holds" },
        { "a tensor of another dtype", "\"dtype\":\"F32\"", "\"dtype\":\"F16\"", "only F32 is supported" },
        { "a shape past 2^31", "\"shape\":[10]", "\"shape\":[2147483648]", "not valid safetensors JSON" },
        { "a negative shape", "\"shape\":[10]", "\"shape\":[-10]", "negative dimension" },
        { "reversed offsets", "\"data_offsets\":[0,", "\"data_offsets\":[40,", "data range does not fit" },
        { "a tensor the model lacks", "\"fc2.bias\"", "\"fc3.bias\"", "does not fit model lenet5" },
        { "a line break in a tensor name", "\"fc1.bias\"", "\"fc1\\nbias\"",
            "the tensor name fc1\\u000abias holds a control character" },
        // The reader does not refuse the repeated name itself: the file is refused for the tensor it then lacks.
        {
            "a tensor named twice", "\"fc1.bias\"", "\"fc2.bias\"",
            "does not fit model lenet5 with 10 classes, one per class name (The saved state does not match this " +
            "model: missing fc1.bias)"
        },
        { "JSON nested 1000 deep", "\"__metadata__\":{", "\"deep\":" + new string('[', 1000) + new string(']', 1000) +
            ",\"__metadata__\":{", "not valid safetensors JSON" },
    };

    [Theory]
    [MemberData(nameof(HandMade))]
    public void Hand_made_model_files_are_refused_with_our_error_naming_the_problem(string what, string from, string to,
        string expected)
    {
        var bytes = Edited(from, to);
        var report = Fuzzer.Run<ModelFormatException>([new Mutation(what, bytes)], Name, ReadModel,
            Fuzzer.WholeFileLimit);
        report.AssertClean();
        Assert.Equal(1, report.Refused);
        Assert.Contains(expected, Assert.Throws<ModelFormatException>(() => ReadModel(bytes)).Message);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(0L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(1L << 31)]
    public void A_header_length_that_cannot_be_is_refused(long length)
    {
        var bytes = (byte[])Model.Value.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(bytes, length);
        Assert.Contains("its first 8 bytes give a header of",
            Assert.Throws<ModelFormatException>(() => ReadModel(bytes)).Message);
    }

    [Theory]
    [InlineData("[null,null,null,null,null,null,null,null,null,null]")]
    [InlineData("[\\\"a\\\",\\\"b\\\"]")]
    [InlineData("[1,2,3,4,5,6,7,8,9,10]")]
    [InlineData("{}")]
    public void Class_names_that_are_not_a_printable_name_per_output_are_refused(string names)
    {
        var bytes = Edited("\"class_names\":\"[", $"\"class_names\":\"{names}\",\"x\":\"[");
        var error = Assert.Throws<ModelFormatException>(() => SavedModel.Parse(bytes, Name)).Message;
        // Two names make a list, but not one that fits a model of ten outputs.
        Assert.True(error.Contains("does not hold a list of class names (2 to 256)")
            || error.Contains("has a class name that cannot be printed")
            || error.Contains("with 2 classes, one per class name"), error);
    }

    [Fact]
    public void The_intact_file_reads_so_the_hand_made_cases_fail_for_their_damage_alone()
    {
        var saved = SavedModel.Parse(Edited("\"input\":\"[N, 1, 32, 32]\"", "\"input\":\"[N, 1, 32, 32] \""), Name);
        Assert.Equal("lenet5", saved.Variant);
    }
}
