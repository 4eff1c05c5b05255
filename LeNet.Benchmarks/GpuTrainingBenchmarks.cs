using BenchmarkDotNet.Attributes;
using ILGPU;
using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Cuda;
using LeNet.Core.Models;
using LeNet.Core.Optim;
using LeNet.Core.Training;
using LeNet.Kernels.Cuda;

namespace LeNet.Benchmarks;

/// <summary>
/// The library's GPU path as the trainer runs it: the one <see cref="Core.Training.TrainingStep"/> of LeNet-5 at batch
/// 64 on a dataset held on the device (timed as <see cref="Steps"/> steps and one synchronisation), launched one by one
/// or replayed as a CUDA graph, under the trainer's <see cref="GpuOptions"/> and under each option changed alone; and
/// evaluation of 10,000 images at batch 1000 with the logits read back. The launches per step are counted and printed.
/// Where no CUDA GPU is found the reason is printed and every benchmark returns at once: `dotnet run -c Release
/// --project LeNet.Benchmarks -- --filter '*GpuTraining*'`.
/// </summary>
[Config(typeof(GpuOptionsColumnConfig))]
public class GpuTrainingBenchmarks
{
    private const int Batch = 64, Steps = 100, TrainImages = 6_400, TestImages = 10_000, ImageLength = 32 * 32;

    private Device? _device;
    private LeNet5 _model = null!;
    private TrainingStep _step = null!;
    private int[] _order = null!;
    private readonly Workspace _evaluationWorkspace = new();
    private BatchSource _test = null!;
    private readonly float[] _logits = new float[1000 * 10];

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

    /// <summary>Full steps replayed as a CUDA graph (the trainer's default) or launched one by one.</summary>
    [Params(true, false)]
    public bool CudaGraphs { get; set; } = true;

    [GlobalSetup]
    public void Setup()
    {
        if (!CudaDevice.TryOpen(out _device, out var reason, Options))
        {
            Console.WriteLine($"GpuTrainingBenchmarks: {reason}");
            return;
        }
        var random = new Random(5);
        var train = BatchSource.Create(_device!, RandomData.Values(random, TrainImages * ImageLength),
            Enumerable.Range(0, TrainImages).Select(_ => random.Next(10)).ToArray(), 1, 32, 32);
        _test = BatchSource.Create(_device!, RandomData.Values(random, TestImages * ImageLength),
            Enumerable.Range(0, TestImages).Select(_ => random.Next(10)).ToArray(), 1, 32, 32);
        _model = new LeNet5(seed: 0);
        _model.To(_device!);
        _step = Core.Training.TrainingStep.Create(_model, new Adam(_model.Parameters()), train, Batch, CudaGraphs);
        _order = Enumerable.Range(0, TrainImages).ToArray();
        _step.StartEpoch(_order);
        for (var i = 0; i < 4; i++) Run();
        var backend = (CudaBackend)_device!.Backend;
        var (before, memsetsBefore, bytesBefore) = (backend.Launches, backend.Memsets,
            GC.GetTotalAllocatedBytes(precise: true));
        Run();
        _device.Synchronize();
        var bytes = GC.GetTotalAllocatedBytes(precise: true) - bytesBefore;
        Console.WriteLine($"GpuTrainingBenchmarks: {backend.Launches - before} launches per training step " +
            $"({backend.Memsets - memsetsBefore} memsets; 0 when replayed), {Options}, " +
            $"{(_step.ReplaysSteps ? "replayed as a CUDA graph" : "launched")}, {bytes} bytes allocated, on " +
                $"{_device.Description}.");
        TrainingStep();
        Evaluate10000();
    }

    private void Run()
    {
        if (_step.Step == _step.StepsPerEpoch)
        {
            _step.ReadLosses();
            _step.StartEpoch(_order);
        }
        _step.Run();
    }

    [Benchmark(OperationsPerInvoke = Steps, Description = "LeNet-5 training step, batch 64, Device cuda")]
    public void TrainingStep()
    {
        if (_device is null) return;
        for (var i = 0; i < Steps; i++) Run();
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
