using System.Buffers.Binary;
using System.Security.Cryptography;
using LeNet.Core;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Core.Serialization;
using LeNet.Train;

namespace LeNet.Tests.Fuzzing;

/// <summary>
/// The checkpoint reader on damaged files. Raw damage mostly stops at the SHA-256, so the damaged bytes are also
/// "resealed" (the payload length and checksum recomputed, as a buggy or hostile writer would leave them), which
/// takes them past the checksum into the JSON header, the shapes and the training state. Every case reads or ends in a
/// CheckpointException (or, read as a model, a ModelFormatException) naming the file, allocating no more than the
/// file justifies.
/// </summary>
[Collection(nameof(FuzzingCollection))]
public class CheckpointFuzzTests
{
    private const string Name = "fuzzed.lenetckpt";
    private const int Prefix = 20, Checksum = 32;

    /// <summary>A small checkpoint of the Core format: a few tensors, an empty one, and metadata.</summary>
    private static readonly Lazy<byte[]> Small = new(() => Fuzzer.BytesWrittenBy(path => Checkpoint.Save(path, "lenet5",
        [
            ("model.weight", Tensor.FromArray([1f, -2.5f, 3e-8f, float.MaxValue, -0f, 6f], 2, 3)),
            ("model.bias", Tensor.FromArray([0.125f, -7f], 2)),
            ("empty", Tensor.Zeros(0)),
        ], new Dictionary<string, string> { ["epoch"] = "3", ["note"] = "ünïcode ✓" }), "c.lenetckpt"));

    /// <summary>A training checkpoint as the trainer writes it: LeNet-5, Adam's moments, the recipe and
    /// metrics.</summary>
    private static readonly Lazy<byte[]> Training = new(() => Fuzzer.BytesWrittenBy(path =>
    {
        var model = ModelVariants.Create("lenet5", seed: 3);
        var adam = new Adam(model.Parameters());
        var options = new TrainOptions { Epochs = 3, Limit = 640, TestLimit = 100, Seed = 3 };
        var metrics = new TrainingMetrics { Model = "lenet5", Device = "cpu", Seed = 3, BatchSize = 64,
            LearningRate = 0.001f, TrainImages = 640, TestImages = 100 };
        metrics.Epochs.Add(new EpochMetrics(1, 0.5, 1280, 0.75, 81.0));
        TrainingCheckpoint.Save(Path.GetDirectoryName(path)!, options, model, adam, 1, metrics,
            ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]);
    }, TrainingCheckpoint.FileName));

    /// <summary>The length of the JSON header, where the structure is.</summary>
    private static int HeaderLength(byte[] checkpoint) =>
        4 + BinaryPrimitives.ReadInt32LittleEndian(checkpoint.AsSpan(Prefix));

    /// <summary>A checkpoint of <paramref name="body"/> (everything between the 20-byte prefix and the checksum) with a
    /// valid length and checksum.</summary>
    private static byte[] Seal(ReadOnlySpan<byte> body)
    {
        var bytes = new byte[Prefix + body.Length + Checksum];
        "LENETCKP"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), Checkpoint.FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), body.Length);
        body.CopyTo(bytes.AsSpan(Prefix));
        SHA256.HashData(bytes.AsSpan(0, Prefix + body.Length), bytes.AsSpan(Prefix + body.Length));
        return bytes;
    }

    /// <summary>The body of <paramref name="checkpoint"/> damaged by <paramref name="damage"/>, then
    /// resealed.</summary>
    private static IEnumerable<Mutation> Resealed(byte[] checkpoint, Func<byte[], IEnumerable<Mutation>> damage) =>
        damage(checkpoint[Prefix..^Checksum])
            .Select(m => new Mutation(m.Description + " of the body, resealed", Seal(m.Bytes)));

    private static void ReadCore(byte[] bytes) => Checkpoint.Parse(bytes, Name);

    /// <summary>What evaluate, predict and --resume do with a checkpoint: decode it, rebuild its model, restore the
    /// weights and Adam.</summary>
    private static void ReadTraining(byte[] bytes) => SavedModel.Parse(bytes, Name);

    [Fact(Timeout = 120_000)]
    public async Task Every_byte_of_a_small_checkpoints_prefix_and_header_changed_raw_and_resealed_reads_or_is_refused()
    {
        await Task.Run(() =>
        {
            var small = Small.Value;
            var header = HeaderLength(small);
            var raw = Mutations.EveryByte(small, 0, Prefix + header).ToList();
            var resealed = Resealed(small, body => Mutations.EveryByte(body, 0, header)).ToList();
            var rawReport = Fuzzer.Run<CheckpointException>(raw, Name, ReadCore, Fuzzer.WholeFileLimit);
            var resealedReport = Fuzzer.Run<CheckpointException>(resealed, Name, ReadCore, Fuzzer.WholeFileLimit);
            rawReport.AssertClean();
            resealedReport.AssertClean();
            // The checksum covers every byte, so raw damage is always refused.
            Assert.Equal(raw.Count, rawReport.Refused);
            Assert.True(resealedReport.Refused > resealed.Count / 2,
                $"only {resealedReport.Refused} of {resealed.Count} resealed headers were refused");
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 120_000)]
    public async Task Random_damage_to_a_small_checkpoint_raw_and_resealed_reads_or_is_refused()
    {
        await Task.Run(() =>
        {
            var small = Small.Value;
            var header = HeaderLength(small);
            var raw = Fuzzer.Run<CheckpointException>(
                Mutations.Random(small, seed: 11, count: 1500, header: Prefix + header), Name, ReadCore,
                Fuzzer.WholeFileLimit);
            var resealed = Fuzzer.Run<CheckpointException>(
                Resealed(small, body => Mutations.Random(body, seed: 12, count: 2000, header: header)), Name, ReadCore,
                Fuzzer.WholeFileLimit);
            var truncated = Fuzzer.Run<CheckpointException>(Mutations.Truncations(small, small.Length), Name, ReadCore,
                Fuzzer.WholeFileLimit);
            raw.AssertClean();
            resealed.AssertClean();
            truncated.AssertClean();
            Assert.Equal((1500, 2000), (raw.Cases, resealed.Cases));
            Assert.Equal(raw.Cases, raw.Refused);
            Assert.Equal(truncated.Cases, truncated.Refused);
        }, TestContext.Current.CancellationToken);
    }

    /// <summary>The training checkpoint's JSON header and metadata with one tiny tensor: the training state, cheap to
    /// read thousands of times.</summary>
    private static readonly Lazy<byte[]> State = new(() =>
    {
        var training = Checkpoint.Parse(Training.Value, Name);
        return Fuzzer.BytesWrittenBy(path =>
            Checkpoint.Save(path, training.Model, [("model.x", Tensor.Zeros(1))], training.Metadata.ToDictionary()),
            "c.lenetckpt");
    });

    /// <summary>Where the metadata (recipe, epoch, step, metrics, class names) begins in
    /// <paramref name="checkpoint"/>.</summary>
    private static int MetadataStart(byte[] checkpoint) => checkpoint.AsSpan().IndexOf("\"metadata\""u8);

    private static void ReadState(byte[] bytes) => TrainingCheckpoint.Parse(bytes, Name);

    [Fact(Timeout = 120_000)]
    public async Task Every_byte_of_a_training_checkpoints_state_changed_and_resealed_reads_or_is_refused()
    {
        await Task.Run(() =>
        {
            var state = State.Value;
            var start = MetadataStart(state) - Prefix;
            var end = HeaderLength(state);
            var cases = Resealed(state, body => Mutations.EveryByte(body, start, end)).ToList();
            var report = Fuzzer.Run<CheckpointException>(cases, Name, ReadState, Fuzzer.WholeFileLimit);
            report.AssertClean();
            Assert.True(cases.Count > 5000, $"{cases.Count} cases");
            Assert.True(report.Refused > cases.Count / 4,
                $"only {report.Refused} of {cases.Count} damaged states were refused");
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_training_checkpoint_damaged_in_its_tensor_list_or_anywhere_reads_as_a_model_or_is_refused()
    {
        await Task.Run(() =>
        {
            var training = Training.Value;
            var header = HeaderLength(training);
            var tensorList = MetadataStart(training) - Prefix;
            var reports = new[]
            {
                // Every 5th byte of the tensor names and shapes, once each, and random damage: read as evaluate and
                // --resume read.
                Fuzzer.Run<CheckpointException, ModelFormatException>(
                    Resealed(training, body => Mutations.EveryByteOnce(body, 4, tensorList, seed: 21, stride: 5)), Name,
                    ReadTraining, Fuzzer.WholeFileLimit),
                Fuzzer.Run<CheckpointException, ModelFormatException>(
                    Resealed(training, body => Mutations.Random(body, seed: 22, count: 150, header: header)), Name,
                    ReadTraining, Fuzzer.WholeFileLimit),
                Fuzzer.Run<CheckpointException, ModelFormatException>(Mutations.EveryByte(training, 0, Prefix + 4),
                    Name, ReadTraining, Fuzzer.WholeFileLimit),
                Fuzzer.Run<CheckpointException, ModelFormatException>(
                    Mutations.SampledBytes(training, Prefix + header, 50), Name, ReadTraining, Fuzzer.WholeFileLimit),
                Fuzzer.Run<CheckpointException, ModelFormatException>(Mutations.Truncations(training, 30), Name,
                    ReadTraining, Fuzzer.WholeFileLimit),
            };
            foreach (var report in reports) report.AssertClean();
            Assert.True(reports[0].Refused > reports[0].Cases / 2,
                $"only {reports[0].Refused} of {reports[0].Cases} resealed tensor lists were refused");
            Assert.All(reports.Skip(2), r => Assert.Equal(r.Cases, r.Refused));
        }, TestContext.Current.CancellationToken);
    }

    /// <summary><paramref name="checkpoint"/> with <paramref name="from"/> replaced by <paramref name="to"/> (first
    /// occurrence) in its JSON header, resealed.</summary>
    private static byte[] Edited(byte[] checkpoint, string from, string to)
    {
        var jsonLength = HeaderLength(checkpoint) - 4;
        var json = System.Text.Encoding.UTF8.GetString(checkpoint, Prefix + 4, jsonLength);
        var at = json.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, $"the header holds no {from}");
        var edited = System.Text.Encoding.UTF8.GetBytes(
            string.Concat(json.AsSpan(0, at), to, json.AsSpan(at + from.Length)));
        var body = new byte[4 + edited.Length + (checkpoint.Length - Checksum - Prefix - 4 - jsonLength)];
        BinaryPrimitives.WriteInt32LittleEndian(body, edited.Length);
        edited.CopyTo(body, 4);
        checkpoint.AsSpan(Prefix + 4 + jsonLength, body.Length - 4 - edited.Length)
            .CopyTo(body.AsSpan(4 + edited.Length));
        return Seal(body);
    }

    public static TheoryData<string, string, string, string> HandMadeStates => new()
    {
        { "a tensor named twice", "\"name\":\"model.fc1.bias\"", "\"name\":\"model.fc2.bias\"", "appears twice" },
        { "a metadata key given twice", "\"epoch\":\"1\"", "\"epoch\":\"1\",\"epoch\":\"2\"", "appears twice" },
        { "a line break in a tensor name", "\"name\":\"model.fc1.bias\"", "\"name\":\"model.fc1\\nbias\"",
            "control character" },
        { "an unknown model", "\"model\":\"lenet5\"", "\"model\":\"resnet\"", "--arch resnet is not an architecture" },
        { "a negative epoch", "\"epoch\":\"1\"", "\"epoch\":\"-1\"", "cannot all be counts" },
        { "no epochs to train", "\"epochs\":\"3\"", "\"epochs\":\"0\"",
            "--epochs must be a whole number of at least 1" },
        { "batch size 0", "\"batch_size\":\"64\"", "\"batch_size\":\"0\"",
            "--batch-size must be a whole number of at least 1" },
        { "a NaN learning rate", "\"lr\":\"0.001\"", "\"lr\":\"NaN\"", "--lr must be a positive number" },
        { "an infinite learning rate", "\"lr\":\"0.001\"", "\"lr\":\"Infinity\"", "--lr must be a positive number" },
        { "a negative limit", "\"limit\":\"640\"", "\"limit\":\"-640\"",
            "--limit must be a whole number of at least 1" },
        { "one class name", "\"class_names\":\"[", "\"class_names\":\"[\\\"a\\\"]\",\"x\":\"[",
            "a class name for each of two or more classes" },
        { "class names that are not JSON", "\"class_names\":\"[", "\"class_names\":\"nope\",\"x\":\"[",
            "lacks the training state" },
        { "metrics that are null", "\"metrics\":\"", "\"metrics\":\"null\",\"x\":\"", "lacks the training state" },
        { "a step count past 2^31", "\"optimizer_step\":\"", "\"optimizer_step\":\"2147483648\",\"x\":\"",
            "lacks the training state" },
        { "a shape past 2^31", "\"shape\":[10]", "\"shape\":[2147483648]", "is corrupt" },
        { "a negative shape", "\"shape\":[10]", "\"shape\":[-10]", "is corrupt" },
        { "JSON nested 1000 deep", "\"metadata\":{", "\"deep\":" + new string('[', 1000) + new string(']', 1000) +
            ",\"metadata\":{", "is corrupt" },
    };

    [Theory]
    [MemberData(nameof(HandMadeStates))]
    public void Hand_made_training_checkpoints_are_refused_with_our_error_naming_the_problem(string what, string from,
        string to, string expected)
    {
        var bytes = Edited(Training.Value, from, to);
        var report = Fuzzer.Run<CheckpointException, ModelFormatException>([new Mutation(what, bytes)], Name,
            ReadTraining, Fuzzer.WholeFileLimit);
        report.AssertClean();
        Assert.Equal(1, report.Refused);
        var error = Assert.Throws<CheckpointException>(() => ReadTraining(bytes));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void An_edit_that_keeps_the_state_valid_reads_so_the_hand_made_cases_fail_for_their_damage_alone()
    {
        var saved = SavedModel.Parse(Edited(Training.Value, "\"epoch\":\"1\"", "\"epoch\":\"2\""), Name);
        Assert.Equal("lenet5", saved.Variant);
        Assert.Equal("nine", saved.ClassNames[9]);
    }
}
