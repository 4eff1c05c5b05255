using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;

namespace LeNet.Benchmarks;

/// <summary>
/// The CUDA kernels of a LeNet-5 training step at the seed's batch of 64, each timed as <see cref="Repetitions"/>
/// launches queued on the stream and one synchronisation (the per-launch time a step pays), and the whole step's
/// launch sequence (<see cref="LaunchesPerStep"/> launches: no host sync inside, the loss stays on the device).
/// Where no CUDA GPU is found, <see cref="Device"/> is <see cref="NoGpu"/>, the reason is printed, and every benchmark
/// returns at once (its time is that of an empty call, not a kernel's), so a CPU-only run does not fail: `dotnet run -c
/// Release --project LeNet.Benchmarks -- --filter '*CudaKernel*'`. Each kernel is timed as the trainer compiles it and
/// compiled the other ways <see cref="GpuOptions"/> allows.
/// </summary>
[Config(typeof(GpuOptionsColumnConfig))]
public class CudaKernelBenchmarks
{
    private const int Batch = 64, Repetitions = 100, DatasetSize = 60_000, ImageSize = 32 * 32;

    /// <summary>18 kernels (gather, 6 forward — each convolution with its BatchNorm block two, fc, the head with its
    /// loss and row-wise backward —, 10 backward — the head's weight gradients, fc, each block two, each convolution
    /// two —, Adam) and one memset of the activation gradients: the trainer's launches.</summary>
    public const int LaunchesPerStep = 19;

    private static readonly ConvShape Conv1 = new(Batch, 1, 32, 32, 6, 5, 5), Conv2 = new(Batch, 6, 14, 14, 16, 5, 5);
    private static readonly PoolShape Block1 = new(Batch, 6, 28, 28, 2, 2), Block2 = new(Batch, 16, 10, 10, 2, 2);
    private static readonly LinearShape Fc = new(Batch, 400, 120), Fc1 = new(Batch, 120, 84), Fc2 = new(Batch, 84, 10);
    private static readonly HeadShape HeadShape = new(Batch, 120, 84, 10);

    private GpuDevice? _device;
    private CudaKernels _k = null!;
    private readonly List<IDisposable> _buffers = [];

    // Parameters, gradients and Adam's moments: one buffer each, carved per tensor.
    private ArrayView<float> _parameters, _grads, _firstMoment, _secondMoment;
    private ArrayView<float> _w1, _b1, _g1, _be1, _w2, _b2, _g2, _be2, _wFc, _bFc, _wFc1, _bFc1, _wFc2, _bFc2;
    private ArrayView<float> _dw1, _db1, _dg1, _dbe1, _dw2, _db2, _dg2, _dbe2, _dwFc, _dbFc, _dwFc1,
        _dbFc1, _dwFc2, _dbFc2;
    // Activations, their gradients (one buffer, cleared by one memset) and what forward saves.
    private ArrayView<float> _images, _x, _c1, _p1, _c2, _p2, _h1, _h2, _logits, _probabilities, _losses, _meanLoss;
    private ArrayView<float> _activationGrads, _dLogits, _dH2, _dH1, _dP2, _dC2, _dP1, _dC1;
    private ArrayView<float> _one, _headScratch;
    private ArrayView<float> _mean1, _invStd1, _runMean1, _runVar1, _mean2, _invStd2, _runMean2, _runVar2;
    private ArrayView<int> _labels, _order, _y, _argmax1, _argmax2;
    private int _step;

    public static IEnumerable<string> Devices()
    {
        if (GpuDevice.TryCreateCuda(out var device, out string reason))
        {
            using (device)
                yield return device!.Name;
        }
        else
        {
            Console.WriteLine($"CudaKernelBenchmarks: {reason}");
            yield return NoGpu;
        }
    }

    /// <summary>
    /// The parameter value where no CUDA GPU is present: every benchmark then measures an empty call.
    /// </summary>
    public const string NoGpu = "none (no CUDA GPU)";

    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "";

    /// <summary>The trainer's options, then the kernels compiled once for all shapes, then at ILGPU's O2.</summary>
    public static IEnumerable<GpuOptions> OptionSets() =>
    [
        GpuOptions.Default,
        GpuOptions.Default with { SpecializeShapes = false },
        GpuOptions.Default with { Optimization = OptimizationLevel.O2 },
    ];

    [ParamsSource(nameof(OptionSets))]
    public GpuOptions Options { get; set; } = GpuOptions.Default;

    [GlobalSetup]
    public void Setup()
    {
        string reason = "none was found";
        if (Device == NoGpu || !GpuDevice.TryCreateCuda(out _device, out reason, Options))
        {
            Console.WriteLine($"CudaKernelBenchmarks: no CUDA GPU, nothing is measured ({reason}).");
            _device = null;
            return;
        }
        _k = new CudaKernels(_device!.Accelerator, Options);
        var random = new Random(1);

        _parameters = Allocate(61_750, random, 0.1f);
        _grads = Allocate(61_750, random, 0f);
        _firstMoment = Allocate(61_750, random, 0f);
        _secondMoment = Allocate(61_750, random, 0f);
        int offset = 0;
        (_w1, _dw1) = Carve(ref offset, Conv1.WeightLength); (_b1, _db1) = Carve(ref offset, 6);
        (_g1, _dg1) = Carve(ref offset, 6); (_be1, _dbe1) = Carve(ref offset, 6);
        (_w2, _dw2) = Carve(ref offset, Conv2.WeightLength); (_b2, _db2) = Carve(ref offset, 16);
        (_g2, _dg2) = Carve(ref offset, 16); (_be2, _dbe2) = Carve(ref offset, 16);
        (_wFc, _dwFc) = Carve(ref offset, Fc.WeightLength); (_bFc, _dbFc) = Carve(ref offset, 120);
        (_wFc1, _dwFc1) = Carve(ref offset, Fc1.WeightLength); (_bFc1, _dbFc1) = Carve(ref offset, 84);
        (_wFc2, _dwFc2) = Carve(ref offset, Fc2.WeightLength); (_bFc2, _dbFc2) = Carve(ref offset, 10);

        _images = Allocate(DatasetSize * ImageSize, random, 1f);
        _labels = AllocateInts(Enumerable.Range(0, DatasetSize).Select(i => i % 10).ToArray());
        _order = AllocateInts(Enumerable.Range(0, DatasetSize).OrderBy(_ => random.Next()).ToArray());
        _y = AllocateInts(new int[Batch]);
        _argmax1 = AllocateInts(new int[Block1.OutputLength]);
        _argmax2 = AllocateInts(new int[Block2.OutputLength]);
        _x = Allocate(Conv1.InputLength, random, 1f);
        _c1 = Allocate(Conv1.OutputLength, random, 1f);
        _p1 = Allocate(Block1.OutputLength, random, 1f);
        _c2 = Allocate(Conv2.OutputLength, random, 1f);
        _p2 = Allocate(Block2.OutputLength, random, 1f);
        _h1 = Allocate(Fc.OutputLength, random, 1f);
        _h2 = Allocate(Fc1.OutputLength, random, 1f);
        _logits = Allocate(Fc2.OutputLength, random, 1f);
        _probabilities = Allocate(Fc2.OutputLength, random, 0f);
        _losses = Allocate(Batch, random, 0f);
        _meanLoss = Allocate(1, random, 0f);
        _one = Allocate(1, random, 0f);
        _one.CopyFromCPU([1f]);
        _headScratch = Allocate(HeadShape.ScratchLength, random, 0f);
        int[] gradLengths = [Fc2.OutputLength, Fc1.OutputLength, Fc.OutputLength, Block2.OutputLength,
            Conv2.OutputLength, Block1.OutputLength, Conv1.OutputLength];
        _activationGrads = Allocate(gradLengths.Sum(), random, 0f);
        int g = 0;
        ArrayView<float> Next(int length) { var view = _activationGrads.SubView(g, length); g += length; return view; }
        (_dLogits, _dH2, _dH1, _dP2, _dC2, _dP1, _dC1) = (Next(gradLengths[0]), Next(gradLengths[1]),
            Next(gradLengths[2]), Next(gradLengths[3]),
            Next(gradLengths[4]), Next(gradLengths[5]), Next(gradLengths[6]));
        (_mean1, _invStd1, _runMean1, _runVar1) = (Allocate(6, random, 0f), Allocate(6, random, 0f),
            Allocate(6, random, 0f), Allocate(6, random, 1f));
        (_mean2, _invStd2, _runMean2, _runVar2) = (Allocate(16, random, 0f), Allocate(16, random, 0f),
            Allocate(16, random, 0f), Allocate(16, random, 1f));
        _g1.CopyFromCPU(Enumerable.Repeat(1f, 6).ToArray()); // BatchNorm starts as PyTorch does: gamma 1
        _g2.CopyFromCPU(Enumerable.Repeat(1f, 16).ToArray());
        TrainingStep(); // compile-time effects and first-touch out of the measurement
        _k.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in _buffers) buffer.Dispose();
        _buffers.Clear();
        _device?.Dispose();
        _device = null;
    }

    [Benchmark(OperationsPerInvoke = Repetitions)] public void Gather() =>
        Repeat(() => _k.Gather(_images, _labels, _order.SubView(0, Batch), _x, _y, ImageSize));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Conv1Forward() =>
        Repeat(() => _k.Conv2dForward(_x, _w1, _b1, _c1, Conv1));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Block1Forward() =>
        Repeat(() => _k.BatchNormReLUMaxPoolForwardTraining(_c1, _g1, _be1, _p1, _argmax1, _mean1, _invStd1, _runMean1,
        _runVar1, 0.1f, 1e-5f, Block1));
    /// <summary>
    /// Conv1 writing BatchNorm's statistics, then block 1's second launch: what a training step runs in place of
    /// Conv1Forward + Block1Forward.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Conv1Block1Forward() => Repeat(Conv1Block1);
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Conv2Forward() =>
        Repeat(() => _k.Conv2dForward(_p1, _w2, _b2, _c2, Conv2));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Block2Forward() =>
        Repeat(() => _k.BatchNormReLUMaxPoolForwardTraining(_c2, _g2, _be2, _p2, _argmax2, _mean2, _invStd2, _runMean2,
        _runVar2, 0.1f, 1e-5f, Block2));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Conv2Block2Forward() => Repeat(Conv2Block2);
    [Benchmark(OperationsPerInvoke = Repetitions)] public void FcForward() =>
        Repeat(() => _k.LinearForward(_p2, _wFc, _bFc, _h1, Fc, relu: true));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void SoftmaxCrossEntropy() =>
        Repeat(() => _k.SoftmaxCrossEntropyForward(_logits, _y, _probabilities, _losses,
        _meanLoss, Batch, 10, _dLogits));
    /// <summary>
    /// fc1 → relu1 → fc2 → loss and their backward as separate kernels (3 forward launches incl. the loss, 2 backward):
    /// what <see cref="Head"/> replaces.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Repetitions)] public void HeadUnfused() => Repeat(() =>
    {
        _k.LinearForward(_h1, _wFc1, _bFc1, _h2, Fc1, relu: true);
        _k.LinearForward(_h2, _wFc2, _bFc2, _logits, Fc2);
        _k.SoftmaxCrossEntropyForward(_logits, _y, _probabilities, _losses, _meanLoss, Batch, 10, _dLogits);
        _k.LinearBackward(_h2, _wFc2, _dLogits, _dH2, _dwFc2, _dbFc2, Fc2, maskInputByReLU: true);
        _k.LinearBackward(_h1, _wFc1, _dH2, _dH1, _dwFc1, _dbFc1, Fc1);
    });
    /// <summary>
    /// The same as <see cref="HeadUnfused"/> by the fused head: the row kernel and the weight gradients' launch.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Head() => Repeat(HeadLaunches);
    [Benchmark(OperationsPerInvoke = Repetitions)] public void HeadRows() => Repeat(() =>
        _k.HeadForwardBackward(_h1, _wFc1, _bFc1, _wFc2, _bFc2, _y, _one, _h2, _meanLoss, _headScratch, _dH1, HeadShape,
            accumulateInput: false));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void FcBackward() =>
        Repeat(() => _k.LinearBackward(_p2, _wFc, _dH1, _dP2, _dwFc, _dbFc, Fc));
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Block2Backward() => Repeat(Block2Backwards);
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Conv2Backward() => Repeat(Conv2Backwards);
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Block1Backward() => Repeat(Block1Backwards);
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Conv1Backward() => Repeat(Conv1Backwards);

    [Benchmark(OperationsPerInvoke = Repetitions)] public void Adam() =>
        Repeat(() => _k.AdamStep(_parameters, _grads, _firstMoment, _secondMoment, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f));

    /// <summary>
    /// One training step's <see cref="LaunchesPerStep"/> launches, queued back to back; one sync per 100 steps.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Repetitions)] public void Step() => Repeat(TrainingStep);

    private void TrainingStep()
    {
        _step++;
        var stream = _k.Stream;
        _activationGrads.MemSetToZero(stream);
        _k.Gather(_images, _labels, _order.SubView(_step * Batch % (DatasetSize - Batch), Batch), _x, _y, ImageSize);
        Conv1Block1();
        Conv2Block2();
        _k.LinearForward(_p2, _wFc, _bFc, _h1, Fc, relu: true);
        HeadLaunches();
        _k.LinearBackward(_p2, _wFc, _dH1, _dP2, _dwFc, _dbFc, Fc, reluOutput: _h1);
        Block2Backwards();
        Conv2Backwards();
        Block1Backwards();
        Conv1Backwards();
        _k.AdamStep(_parameters, _grads, _firstMoment, _secondMoment, _step, 1e-3f, 0.9f, 0.999f, 1e-8f,
            0f, clearGradient: true);
    }

    private void HeadLaunches()
    {
        _k.HeadForwardBackward(_h1, _wFc1, _bFc1, _wFc2, _bFc2, _y, _one, _h2, _meanLoss, _headScratch, _dH1, HeadShape,
            accumulateInput: false);
        _k.HeadWeightGradients(_h1, _h2, _headScratch, _dwFc1, _dbFc1, _dwFc2, _dbFc2, HeadShape);
    }

    private void Conv1Block1() => _k.Conv2dBatchNormReLUMaxPoolForwardTraining(_x, _w1, _b1, _c1, _g1, _be1, _p1,
        _argmax1, _mean1, _invStd1,
        _runMean1, _runVar1, 0.1f, 1e-5f, Conv1, 2);

    private void Block2Backwards() => _k.BatchNormReLUMaxPoolBackward(_dP2, _argmax2, _c2, _g2, _be2, _mean2, _invStd2,
        _dC2, _dg2, _dbe2, Block2);

    private void Conv2Backwards() => _k.Conv2dBackward(_p1, _w2, _dC2, _dP1, _dw2, _db2, Conv2);

    private void Block1Backwards() => _k.BatchNormReLUMaxPoolBackward(_dP1, _argmax1, _c1, _g1, _be1, _mean1, _invStd1,
        _dC1, _dg1, _dbe1, Block1);

    private void Conv1Backwards() => _k.Conv2dBackward(_x, default, _dC1, default, _dw1, _db1, Conv1);

    private void Conv2Block2() => _k.Conv2dBatchNormReLUMaxPoolForwardTraining(_p1, _w2, _b2, _c2, _g2, _be2, _p2,
        _argmax2, _mean2, _invStd2,
        _runMean2, _runVar2, 0.1f, 1e-5f, Conv2, 2);

    private void Repeat(Action launch)
    {
        if (_device is null)
            return; // no GPU: see Device
        for (int i = 0; i < Repetitions; i++)
            launch();
        _k.Synchronize();
    }

    private (ArrayView<float> Parameter, ArrayView<float> Grad) Carve(ref int offset, int length)
    {
        var carved = (_parameters.SubView(offset, length), _grads.SubView(offset, length));
        offset += length;
        return carved;
    }

    private ArrayView<float> Allocate(int length, Random random, float scale)
    {
        var buffer = _device!.Accelerator.Allocate1D<float>(length);
        _buffers.Add(buffer);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = scale == 0 ? 0 : scale * (float)(random.NextDouble() * 2 - 1);
        buffer.View.CopyFromCPU(values);
        return buffer.View;
    }

    private ArrayView<int> AllocateInts(int[] values)
    {
        var buffer = _device!.Accelerator.Allocate1D<int>(values.Length);
        _buffers.Add(buffer);
        buffer.View.CopyFromCPU(values);
        return buffer.View;
    }
}
