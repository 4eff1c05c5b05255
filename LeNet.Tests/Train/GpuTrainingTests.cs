using System.Globalization;
using System.Text.RegularExpressions;
using LeNet.Core;
using LeNet.Core.Cuda;
using LeNet.Mnist;
using LeNet.Tests.Core;
using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>The trainer's GPU loop (dataset on the device, losses read back per log line) against its CPU
/// loop.</summary>
[Collection(GpuDeviceCollection.Name)]
public partial class GpuTrainingTests
{
    public static TheoryData<string> Devices() => GpuDevices.Names();

    /// <summary>Each GPU device with and without CUDA graphs (which only a CUDA GPU captures: elsewhere the run is step
    /// by step).</summary>
    public static TheoryData<string, bool> DevicesAndGraphs()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in GpuDevices.Names())
        {
            data.Add(name, false);
            data.Add(name, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(DevicesAndGraphs))]
    public void A_short_run_on_the_gpu_follows_the_cpu_runs_loss_curve(string deviceName, bool cudaGraphs)
    {
        GpuDevices.Require(deviceName);
        var gpuDevice = GpuDevices.Get(deviceName); // skips (or fails) at once where no CUDA GPU opens
        if (cudaGraphs && !CapturedStep.IsSupported(gpuDevice))
            Assert.Skip($"{deviceName} captures no CUDA graph: the run would be the one of cudaGraphs: false");
        var data = MnistData.Load(MnistTestData.Directory, acquirer: new MnistAcquirer([]));
        (double[] Losses, double Accuracy) Run(Device device)
        {
            using var output = new TemporaryFolder();
            // 20 images at batch 4: five steps an epoch; the log line at step 3 reads back steps 1-3, the epoch's end
            // steps 4-5.
            var options = new TrainOptions
            {
                Limit = 20, TestLimit = 20, BatchSize = 4, Epochs = 2, LogEvery = 3, Pictures = false,
                OutputDirectory = output.Path,
                CudaGraphs = cudaGraphs && !device.IsCpu,
            };
            var log = new StringWriter();
            var metrics = new Trainer(options, log).Run(data, null, device, TestContext.Current.CancellationToken);
            // With graphs on a CUDA GPU, step 3 of epoch 1 is captured and every later step replays it (all 5 are full
            // batches).
            Assert.Equal(options.CudaGraphs && CapturedStep.IsSupported(device),
                log.ToString().Contains("CUDA graphs: step 3 of epoch 1 was captured"));
            var losses = metrics.Epochs.Select(e => e.MeanLoss).Concat(StepLine().Matches(log.ToString())
                .Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))).ToArray();
            return (losses, metrics.FinalTestAccuracy);
        }

        var cpu = Run(Device.Cpu);
        var gpu = Run(gpuDevice);
        Assert.Equal(2 + 2, cpu.Losses.Length); // two epoch means, a line at step 3 of each epoch
        Assert.Equal(cpu.Losses.Length, gpu.Losses.Length);
        // Adam turns rounding-level gradient differences into weight differences of up to lr per step
        // (GpuBackendTests), so the curves agree to a few thousandths, not to the last digit; a wrong gradient or a
        // skipped step is far off.
        for (var i = 0; i < cpu.Losses.Length; i++)
            Assert.True(Math.Abs(cpu.Losses[i] - gpu.Losses[i]) < 5e-3 * Math.Max(1, cpu.Losses[i]),
                $"loss {i}: CPU {cpu.Losses[i]}, GPU {gpu.Losses[i]}.");
        Assert.InRange(gpu.Accuracy, cpu.Accuracy - 5, cpu.Accuracy + 5); // 20 test images: one image is 5 points
    }

    [Fact]
    public void Asking_for_cuda_trains_there_or_says_in_one_sentence_why_not()
    {
        using var output = new TemporaryFolder();
        var options = new TrainOptions { DataDirectory = MnistTestData.Directory, Device = "cuda", Limit = 64,
            TestLimit = 64, Epochs = 1, Pictures = false, OutputDirectory = output.Path };
        var log = new StringWriter();
        var error = new StringWriter();
        var code = TrainCommand.Run(options, log, error);
        if (CudaDevice.TryOpen(out _, out var reason))
        {
            Assert.Equal(0, code);
            Assert.Contains("device cuda (", log.ToString());
        }
        else
        {
            Assert.Equal(1, code);
            Assert.Equal(
                $"--device cuda: {reason}; run with --device cpu, or on a machine with an NVIDIA GPU and its driver.",
                error.ToString().Trim());
            Assert.DoesNotContain("\n", error.ToString().Trim());
            Assert.DoesNotContain("MNIST from", log.ToString()); // refused before any work
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Evaluate_on_a_gpu_device_reports_what_the_cpu_reports(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var (cpuLog, gpuLog) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, 200, json: true, null,
            cpuLog, TextWriter.Null));
        var note = new StringWriter();
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, 200, json: true, null,
            gpuLog, note, _ => GpuDevices.Get(deviceName)));
        // The same predictions on the same images: the same accuracy, per-class figures and confusion matrix; the loss,
        // from logits summed in another order, agrees to float rounding.
        var (cpuLoss, cpuRest) = WithoutLoss(cpuLog.ToString());
        var (gpuLoss, gpuRest) = WithoutLoss(gpuLog.ToString());
        Assert.Equal(cpuRest, gpuRest);
        Assert.Contains("\"accuracy\"", gpuRest);
        Assert.Equal(cpuLoss, gpuLoss, 1e-5 * cpuLoss);

        var table = new StringWriter();
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, 200, json: false, null,
            table, TextWriter.Null, _ => GpuDevices.Get(deviceName)));
        Assert.Contains($", on {GpuDevices.Get(deviceName).Description}:", table.ToString());
    }

    private static (double Loss, string Others) WithoutLoss(string json)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        var loss = root["loss"]!.GetValue<double>();
        root.Remove("loss");
        return (loss, root.ToJsonString());
    }

    [Fact]
    public void Evaluate_with_device_cuda_where_there_is_none_is_refused_in_one_sentence_before_reading_data()
    {
        using var empty = new TemporaryFolder();
        var (log, error) = (new StringWriter(), new StringWriter());
        var code = EvaluateCommand.Run(TrainedModel.ModelFile, empty.Path, 100, json: false, null, log, error,
            device: "cuda");
        if (CudaDevice.TryOpen(out _, out var reason))
            Assert.Equal(1, code); // a GPU, but no data in the folder
        else
        {
            Assert.Equal(1, code);
            Assert.Equal(
                $"--device cuda: {reason}; run with --device cpu, or on a machine with an NVIDIA GPU and its driver.",
                error.ToString().Trim());
            Assert.Empty(Directory.EnumerateFileSystemEntries(empty.Path)); // refused before fetching MNIST there
        }

        // auto falls back to the CPU, saying so on stderr when stdout carries JSON.
        (log, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, EvaluateCommand.Run(TrainedModel.ModelFile, MnistTestData.Directory, 50, json: true, null, log,
            error, device: "auto"));
        Assert.Matches(
            @"--device auto: (evaluating on the GPU, cuda \(|no CUDA GPU was found \(.+\), so evaluating on the CPU\.)",
            error.ToString());
        Assert.StartsWith("{", log.ToString().TrimStart());
    }

    [Fact]
    public void Auto_says_which_device_it_chose()
    {
        using var output = new TemporaryFolder();
        var options = new TrainOptions { DataDirectory = MnistTestData.Directory, Device = "auto", Limit = 64,
            TestLimit = 64, Epochs = 1, Pictures = false, OutputDirectory = output.Path };
        var log = new StringWriter();
        Assert.Equal(0, TrainCommand.Run(options, log, TextWriter.Null));
        Assert.Matches(
            @"--device auto: (training on the GPU, cuda \(|no CUDA GPU was found \(.+\), so training on the CPU\.)",
            log.ToString());
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void On_the_gpu_a_non_finite_loss_is_caught_at_the_next_read_back_and_named_by_its_step(string deviceName)
    {
        GpuDevices.Require(deviceName);
        using var folder = new TemporaryFolder();
        var clean = MnistDataset.Load(MnistTestData.Directory, train: false, limit: 16, verifyChecksums: false);
        // One NaN pixel: the step whose batch holds that image is the first with a NaN loss; the losses are read back
        // only at the epoch's end (LogEvery 1000), after the later steps ran on, yet the message names that step.
        const int poisoned = 5;
        var pixels = (float[])clean.Images.Clone();
        pixels[poisoned * clean.ImageLength + 300] = float.NaN;
        var data = new MnistData(MnistTestData.Directory, new MnistDataset(pixels, clean.Labels, clean.ImageSize),
            clean.Take(4));
        var step = Array.IndexOf(MnistBatcher.Permutation(clean.Count, seed: 0, epoch: 0), poisoned) / 4 + 1;
        var options = new TrainOptions { Epochs = 1, BatchSize = 4, LogEvery = 1000, OutputDirectory = folder.Path,
            Pictures = false };

        var error = Assert.Throws<TrainingDivergedException>(() => new Trainer(options, TextWriter.Null)
            .Run(data, null, GpuDevices.Get(deviceName), TestContext.Current.CancellationToken));

        Assert.Equal(
            $"Training diverged: the loss became NaN at epoch 1, step {step}, so the run stopped, having saved " +
                "nothing; try a smaller --lr.",
            error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [GeneratedRegex(@"Step \[\d+/\d+\], Loss: ([0-9.]+)")]
    private static partial Regex StepLine();

    /// <summary>Asks the run to stop once the loss of step <c>step</c> of epoch <c>epoch</c> has been read
    /// back.</summary>
    private sealed class StopAfter(int epoch, int step, CancellationTokenSource stop)
        : LeNet.Train.Progress.TrainingProgress
    {
        private int _epoch;
        public override void Run(Action body) => body();
        public override void EpochStarted(int epoch, int epochs, int steps, int images) => _epoch = epoch;
        public override void StepEnded(int step1, float loss, int images)
        {
            if (_epoch == epoch && step1 == step) stop.Cancel();
        }
        public override void EpochEnded(EpochMetrics metrics, string summary) { }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_gpu_run_stopped_mid_epoch_resumes_to_the_uninterrupted_runs_weights(string deviceName)
    {
        GpuDevices.Require(deviceName);
        // The resumed epoch starts the device's step cursor and Adam's table at the checkpoint's step and count.
        var device = GpuDevices.Get(deviceName);
        var cancel = TestContext.Current.CancellationToken;
        var data = MnistData.Load(MnistTestData.Directory, acquirer: new MnistAcquirer([]));
        TrainOptions Recipe(string output) => new()
        {
            Limit = 24, TestLimit = 8, BatchSize = 6, Epochs = 2, LogEvery = 1, Seed = 3, Pictures = false,
            OutputDirectory = output,
        };
        using var whole = new TemporaryFolder();
        new Trainer(Recipe(whole.Path), TextWriter.Null).Run(data, null, device, cancel);

        using var folder = new TemporaryFolder();
        using var stop = new CancellationTokenSource();
        Assert.Throws<TrainingInterruptedException>(() =>
            new Trainer(Recipe(folder.Path), TextWriter.Null, new StopAfter(2, 2, stop))
                .Run(data, null, device, stop.Token));
        var checkpoint = TrainingCheckpoint.Load(folder.Path);
        Assert.Equal((1, 2, 6),
            (checkpoint.Epoch, checkpoint.Step, checkpoint.OptimizerSteps)); // 4 steps, then 2 of epoch 2
        new Trainer(Recipe(folder.Path), TextWriter.Null).Run(data, checkpoint, device, cancel);

        Assert.Equal(File.ReadAllBytes(Path.Combine(whole.Path, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(folder.Path, "model.safetensors")));
    }
}
