using BenchmarkDotNet.Attributes;
using ILGPU;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Backends;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Kernels.Cuda;

namespace LeNet.Benchmarks;

/// <summary>
/// The library's own GPU path (Device cuda: autograd over CudaBackend, as the trainer runs it): a LeNet-5 training step
/// at batch 64 on a dataset held on the device (gather, forward, loss, backward, Adam, the loss stored aside, the
/// position on the device as the trainer's <see cref="StepSchedule"/>; timed as <see cref="Steps"/> steps and one
/// synchronisation), the same step captured once and replayed as a CUDA graph, and evaluation of 10,000 images at batch
/// 1000 with the logits read back, each under the trainer's <see cref="GpuOptions"/> and under each option changed
/// alone. The launches per step are counted and printed. Where no CUDA GPU is found the reason is printed and every
/// benchmark returns at once: `dotnet run -c Release --project LeNet.Benchmarks -- --filter '*GpuTraining*'`.
/// </summary>
[Config(typeof(GpuOptionsColumnConfig))]
public class GpuTrainingBenchmarks
{
    private const int Batch = 64, Steps = 100, TrainImages = 6_400, TestImages = 10_000, ImageLength = 32 * 32;

    private GpuDevice? _gpu;
    private Device? _device;
    private LeNet5 _model = null!;
    private Adam _adam = null!;
    private readonly Workspace _workspace = new(), _evaluationWorkspace = new();
    private DeviceDataset _train = null!, _test = null!;
    private Tensor _losses = null!;
    private StepSchedule _schedule = null!;
    private CapturedStep? _captured;
    private float[] _logits = new float[1000 * 10];

    /// <summary>
    /// The trainer's options, then each changed alone: the classifier head run as its four operations, the kernels
    /// compiled once for all shapes, ILGPU's O2.
    /// </summary>
    public static IEnumerable<GpuOptions> OptionSets() =>
    [
        GpuOptions.Default,
        GpuOptions.Default with { FuseHead = false },
        GpuOptions.Default with { SpecializeShapes = false },
        GpuOptions.Default with { Optimization = OptimizationLevel.O2 },
    ];

    [ParamsSource(nameof(OptionSets))]
    public GpuOptions Options { get; set; } = GpuOptions.Default;

    [GlobalSetup]
    public void Setup()
    {
        if (!GpuDevice.TryCreateCuda(out _gpu, out var reason, Options))
        {
            Console.WriteLine($"GpuTrainingBenchmarks: {reason}");
            return;
        }
        _device = Device.OnGpu(_gpu!);
        var random = new Random(5);
        _train = new DeviceDataset(_device!, RandomData.Values(random, TrainImages * ImageLength), Enumerable.Range(0, TrainImages).Select(_ => random.Next(10)).ToArray(), 1, 32, 32);
        _test = new DeviceDataset(_device!, RandomData.Values(random, TestImages * ImageLength), Enumerable.Range(0, TestImages).Select(_ => random.Next(10)).ToArray(), 1, 32, 32);
        _model = new LeNet5(seed: 0);
        _model.To(_device!);
        _adam = new Adam(_model.Parameters());
        _losses = Tensor.Zeros(_device!, TrainImages / Batch);
        _schedule = new StepSchedule(_device!, TrainImages / Batch);
        _schedule.StartEpoch(0, _adam);
        for (var i = 0; i < 3; i++) Step();
        var backend = (CudaBackend)_device!.Backend;
        var (before, memsetsBefore, bytesBefore) = (backend.Launches, backend.Memsets, GC.GetAllocatedBytesForCurrentThread());
        Step();
        var bytes = GC.GetAllocatedBytesForCurrentThread() - bytesBefore;
        Console.WriteLine($"GpuTrainingBenchmarks: {backend.Launches - before} launches per training step " +
            $"(kernels and memsets, {backend.Memsets - memsetsBefore} of them memsets), {bytes} bytes allocated " +
            $"on the calling thread, on {_device!.Description}, {Options}.");
        try
        {
            _captured = CapturedStep.Capture(_device!, Step);
            _captured.Replay();
            bytesBefore = GC.GetAllocatedBytesForCurrentThread();
            Replay();
            Console.WriteLine($"GpuTrainingBenchmarks: the step captured as a CUDA graph; a replay allocates {GC.GetAllocatedBytesForCurrentThread() - bytesBefore} bytes.");
        }
        catch (CudaGraphException exception)
        {
            Console.WriteLine($"GpuTrainingBenchmarks: no CUDA graph: {exception.Message}.");
            _schedule.StartEpoch(0, _adam); // the failed capture's step was never run on the device
        }
        TrainingStep();
        TrainingStepReplayed();
        Evaluate10000();
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _captured?.Dispose();
        _captured = null;
        _device = null;
        _gpu?.Dispose(); // every buffer of this case's device with it
        _gpu = null;
    }

    private void Step()
    {
        if (_schedule.Step == _schedule.StepsPerEpoch) _schedule.StartEpoch(0, _adam);
        using var scope = _workspace.Begin();
        var (input, labels) = _train.Batch(_schedule, Batch, Batch);
        var loss = _model.CrossEntropyLoss(input, labels); // as the trainer: the head fused with the loss
        if (!_adam.ClearsGradients) // as the trainer: zeroed before the first step, then by each step's Adam launch
        {
            _adam.ZeroGrad();
            _adam.ClearsGradients = true;
        }
        loss.Backward();
        _schedule.EndStep(loss, _losses, _adam); // as the trainer: Adam's launch ends the step
    }

    private void Replay()
    {
        if (_schedule.Step == _schedule.StepsPerEpoch) _schedule.StartEpoch(0, _adam);
        _captured!.Replay();
        _schedule.CountReplayedStep();
    }

    [Benchmark(OperationsPerInvoke = Steps, Description = "LeNet-5 training step, batch 64, Device cuda")]
    public void TrainingStep()
    {
        if (_device is null) return;
        for (var i = 0; i < Steps; i++) Step();
        _device.Synchronize();
    }

    [Benchmark(OperationsPerInvoke = Steps, Description = "LeNet-5 training step replayed as a CUDA graph, batch 64")]
    public void TrainingStepReplayed()
    {
        if (_device is null || _captured is null) return;
        for (var i = 0; i < Steps; i++) Replay();
        _device.Synchronize();
    }

    [Benchmark(Description = "Evaluate 10,000 images (batch 1000), Device cuda")]
    public int Evaluate10000()
    {
        if (_device is null) return 0;
        var correct = 0;
        _model.Eval();
        using (GradientTape.NoGrad())
        {
            for (var start = 0; start < TestImages; start += 1000)
            {
                using var scope = _evaluationWorkspace.Begin();
                var (input, _) = _test.Batch(start, 1000);
                _model.Forward(input).CopyTo(_logits);
                for (var n = 0; n < 1000; n++)
                    if (ArgMax(_logits.AsSpan(n * 10, 10)) == n % 10) correct++;
            }
        }
        _model.Train();
        return correct;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var c = 1; c < values.Length; c++) if (values[c] > values[best]) best = c;
        return best;
    }
}
