using LeNet.Core;
using LeNet.Core.Cuda;
using LeNet.Core.Functional;
using LeNet.Core.Models;
using LeNet.Core.Modules;
using LeNet.Core.Optim;
using LeNet.Core.Serialization;
using LeNet.Kernels.Cuda;
using LeNet.Tests.Kernels;

namespace LeNet.Tests.Core;

/// <summary>
/// The GPU devices the Core tests run on: ILGPU's CPU accelerator always (CI has no GPU), and the first CUDA GPU when
/// the machine has one. Each is opened once for the test run.
/// </summary>
public static class GpuDevices
{
    public const string Simulated = "ilgpu-cpu", Cuda = "cuda";

    private static readonly Lazy<Device> SimulatedDevice = new(() =>
        CudaDevice.Open(GpuDevice.CreateCpu(threadsPerGroup: 16)));
    private static readonly Lazy<Device> SimulatedUnfusedHead = new(() =>
        CudaDevice.Open(GpuDevice.CreateCpu(threadsPerGroup: 16,
            options: GpuOptions.Default with { FuseHead = false })));
    private static readonly Lazy<(Device? Device, string Reason)> Gpu =
        new(() => CudaDevice.TryOpen(out var device, out var reason) ? (device, "") : (null, reason));

    /// <summary>
    /// The simulated device and "cuda"; only "cuda" with LENET_TEST_GPU_ONLY=1 (see AcceleratorFixture). Without a
    /// CUDA GPU the "cuda" cases are skipped with the reason, or fail in GPU-only mode (<see cref="Get"/>).
    /// </summary>
    public static TheoryData<string> Names() => LeNet.Tests.Kernels.Cuda.AcceleratorFixture.GpuOnly
        ? new TheoryData<string>(Cuda) : new TheoryData<string>(Simulated, Cuda);

    /// <summary>Called first by each test on <paramref name="name"/>: see AcceleratorFixture.Require.</summary>
    public static void Require(string name)
    {
        if (name == Cuda) Get(name);
        if (name == Cuda) LeNet.Tests.Kernels.Cuda.CudaCases.RanOnGpu();
        else LeNet.Tests.Kernels.Cuda.CudaCases.RanOnSimulator();
    }

    public static Device Get(string name) => name == Cuda
        ? Gpu.Value.Device ?? throw LeNet.Tests.Kernels.Cuda.AcceleratorFixture.NoGpu(Gpu.Value.Reason)
        : SimulatedDevice.Value;

    /// <summary>
    /// A simulated device made with the classifier head's fusion off (a backend option), for comparing both paths.
    /// </summary>
    public static Device UnfusedHead => SimulatedUnfusedHead.Value;
}

/// <summary>
/// The tests that use <see cref="GpuDevices"/> run one at a time: they share each device's stream (queued work from two
/// threads would interleave) and its launch counter.
/// </summary>
[CollectionDefinition(Name)]
public sealed class GpuDeviceCollection
{
    public const string Name = "GPU devices";
}

/// <summary>Whole models on a GPU device (CudaBackend) against the same models on the CPU kernels.</summary>
[Collection(GpuDeviceCollection.Name)]
public class GpuBackendTests
{
    public static TheoryData<string> Devices() => GpuDevices.Names();

    private static (float[] Pixels, int[] Labels) Batch(int batch, int seed)
    {
        var random = new Random(seed);
        var pixels = GradientCheck.Uniform(random, batch * 32 * 32).Select(v => (float)(2 * v)).ToArray();
        return (pixels, Enumerable.Range(0, batch).Select(_ => random.Next(10)).ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual, string what, double tolerance = 1e-4)
    {
        var error = GradientCheck.RelativeError(expected.Select(v => (double)v).ToArray(),
            actual.Select(v => (double)v).ToArray());
        Assert.True(error < tolerance,
            $"{what}: the GPU backend differs from the CPU kernels by relative error {error:E3}.");
    }

    public static TheoryData<string, string, int> ModelsAndBatches()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var device in GpuDevices.Names())
        {
            data.Add(device, LeNet5.ModelName, 1);
            data.Add(device, LeNet5.ModelName, 3);
            data.Add(device, LeNet5Table.ModelName, 2);
            data.Add(device, LeNet1998.ModelName, 2);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ModelsAndBatches))]
    public void Forward_loss_and_every_gradient_match_the_cpu_kernels(string deviceName, string modelName, int batch)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var cpu = ModelVariants.Create(modelName, seed: 31);
        var gpu = ModelVariants.Create(modelName, seed: 31).To(device);
        var (pixels, labels) = Batch(batch, 32);

        var cpuLogits = cpu.Forward(Tensor.FromArray(pixels, batch, 1, 32, 32));
        var gpuLogits = gpu.Forward(Tensor.FromArray(device, pixels, batch, 1, 32, 32));
        Assert.Same(device, gpuLogits.Device);
        AssertClose(cpuLogits.ToArray(), gpuLogits.ToArray(), "logits");
        var cpuLoss = F.CrossEntropy(cpuLogits, labels);
        var gpuLoss = F.CrossEntropy(gpuLogits, new Indices(labels).To(device));
        Assert.Equal(cpuLoss.Item(), gpuLoss.Item(), 1e-4f);

        cpuLoss.Backward();
        gpuLoss.Backward();
        var gpuParameters = gpu.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor);
        foreach (var (name, cpuParameter) in cpu.NamedParameters())
        {
            var gpuGrad = gpuParameters[name].Grad!.ToArray();
            // A convolution bias feeding BatchNorm is cancelled by it: its true gradient is zero and both paths give
            // rounding noise around it, which a relative error cannot compare.
            if (modelName == LeNet5.ModelName && name is "layer1.0.bias" or "layer2.0.bias")
                Assert.All(gpuGrad, g => Assert.InRange(g, -1e-5f, 1e-5f));
            else
                AssertClose(cpuParameter.Grad!.ToArray(), gpuGrad, $"gradient of {name}");
        }
    }

    // SGD for the reason CpuBackendTests gives; Adam is checked step for step below on a model without BatchNorm.
    [Theory]
    [MemberData(nameof(Devices))]
    public void Training_steps_in_a_workspace_follow_the_cpu_kernels(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var cpu = new LeNet5(seed: 33);
        var gpu = new LeNet5(seed: 33).To(device);
        var cpuSgd = new Sgd(cpu.Parameters(), 0.05f, momentum: 0.9f);
        var gpuSgd = new Sgd(gpu.Parameters(), 0.05f, momentum: 0.9f);
        var workspace = new Workspace();
        var backend = (CudaBackend)device.Backend;
        var (launchesPerStep, memsetsPerStep) = (new List<long>(), new List<long>());
        for (var step = 0; step < 3; step++)
        {
            var (pixels, labels) = Batch(4, 300 + step);
            var cpuLoss = Step(cpu, cpuSgd, Tensor.FromArray(pixels, 4, 1, 32, 32), labels);
            var (before, memsetsBefore) = (backend.Launches, backend.Memsets);
            float gpuLoss;
            using (workspace.Begin())
                gpuLoss = Step(gpu, gpuSgd, Tensor.FromArray(device, pixels, 4, 1, 32, 32),
                    new Indices(labels).To(device));
            launchesPerStep.Add(backend.Launches - before);
            memsetsPerStep.Add(backend.Memsets - memsetsBefore);
            Assert.True(Math.Abs(gpuLoss - cpuLoss) < 1e-3 * Math.Max(1, Math.Abs(cpuLoss)),
                $"step {step}: loss {gpuLoss} on {device}, {cpuLoss} on the CPU.");
        }
        foreach (var ((name, expected), (_, actual)) in cpu.StateDict().Zip(gpu.StateDict()))
            AssertClose(expected.ToArray(), actual.ToArray(), name, 1e-3);
        // Once warm, every step queues the same launches (the workspace hands back the same buffers), and each
        // intermediate gradient is overwritten by the first kernel that writes it: the one memset left is ZeroGrad
        // over all the parameters' gradients at once (packed by the optimiser).
        Assert.All(launchesPerStep.Skip(1), n => Assert.Equal(launchesPerStep[1], n));
        Assert.Equal([1L, 1L], memsetsPerStep.Skip(1));
        // Few launches: each convolution with its fused block two forward (the convolution writes BatchNorm's
        // statistics) and four backward, Linear+ReLU as one each way, Adam and ZeroGrad one each; softmax-CE writes the
        // logits' gradient in its forward (the loss's gradient is the device's constant one) and the flatten's input
        // borrows its gradient's storage, so neither needs a backward launch.
        Assert.True(launchesPerStep[1] <= 21, $"{launchesPerStep[1]} launches per step");

        // No atomics anywhere (partial sums are added in a fixed order): the same steps again give the same weights bit
        // for bit.
        var again = new LeNet5(seed: 33).To(device);
        var againSgd = new Sgd(again.Parameters(), 0.05f, momentum: 0.9f);
        for (var step = 0; step < 3; step++)
        {
            var (pixels, labels) = Batch(4, 300 + step);
            using (workspace.Begin())
                Step(again, againSgd, Tensor.FromArray(device, pixels, 4, 1, 32, 32), new Indices(labels).To(device));
        }
        Assert.Equal(gpu.StateDict().Select(e => e.Tensor.ToArray()),
            again.StateDict().Select(e => e.Tensor.ToArray()));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Adam_steps_match_the_cpu_kernels(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var cpu = new LeNet1998(seed: 34);
        var gpu = new LeNet1998(seed: 34).To(device);
        var cpuAdam = new Adam(cpu.Parameters(), 1e-3f);
        var gpuAdam = new Adam(gpu.Parameters(), 1e-3f);
        Assert.All(gpuAdam.FirstMoments, m => Assert.Same(device, m.Device));
        for (var step = 0; step < 2; step++)
        {
            var (pixels, labels) = Batch(3, 400 + step);
            Step(cpu, cpuAdam, Tensor.FromArray(pixels, 3, 1, 32, 32), labels);
            Step(gpu, gpuAdam, Tensor.FromArray(device, pixels, 3, 1, 32, 32), new Indices(labels).To(device));
        }
        // The Adam kernel itself agrees with Reference to 1e-4 (AdamCudaTests); here the wiring is checked. Adam
        // divides each gradient element by its own magnitude, so a rounding-level difference in a near-zero gradient
        // can move that weight by up to lr on one path and not the other: 1e-3 of the weights' norm. A parameter not
        // stepped, or stepped twice, differs by about lr in every element (~1e-2 of the norm).
        foreach (var ((name, expected), (_, actual)) in cpu.StateDict().Zip(gpu.StateDict()))
            AssertClose(expected.ToArray(), actual.ToArray(), name, 1e-3);
        for (var i = 0; i < cpuAdam.Parameters.Count; i++)
            AssertClose(cpuAdam.SecondMoments[i].ToArray(), gpuAdam.SecondMoments[i].ToArray(), $"second moment {i}",
                1e-3);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void An_optimiser_on_the_gpu_steps_all_parameters_in_one_launch(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var backend = (CudaBackend)device.Backend;
        foreach (var makeOptimizer in new Func<IEnumerable<Tensor>, Optimizer>[]
                 { p => new Adam(p, 1e-3f, weightDecay: 0.01f), p => new Sgd(p, 0.05f, momentum: 0.9f) })
        {
            var cpu = new LeNet5(seed: 37);
            var gpu = new LeNet5(seed: 37).To(device);
            var (cpuOptimizer, gpuOptimizer) = (makeOptimizer(cpu.Parameters()), makeOptimizer(gpu.Parameters()));
            var parameters = gpu.Parameters().ToArray();
            for (var step = 0; step < 3; step++)
            {
                var (pixels, labels) = Batch(3, 500 + step);
                Step(cpu, cpuOptimizer, Tensor.FromArray(pixels, 3, 1, 32, 32), labels);
                var loss = F.CrossEntropy(gpu.Forward(Tensor.FromArray(device, pixels, 3, 1, 32, 32)),
                    new Indices(labels).To(device));
                var before = backend.Launches;
                gpuOptimizer.ZeroGrad();
                // Before the first step no gradient exists yet: nothing to clear. Afterwards they are one buffer.
                Assert.Equal(step == 0 ? 0 : 1, backend.Launches - before);
                loss.Backward();
                before = backend.Launches;
                gpuOptimizer.Step();
                Assert.Equal(1, backend.Launches - before);
            }
            // Packing kept the model's own tensors (each now a slice of one buffer) and every value.
            Assert.Equal(parameters, gpu.Parameters());
            foreach (var ((name, expected), (_, actual)) in cpu.StateDict().Zip(gpu.StateDict()))
                AssertClose(expected.ToArray(), actual.ToArray(), $"{gpuOptimizer.GetType().Name}: {name}", 1e-3);
            gpuOptimizer.ZeroGrad();
            Assert.All(parameters, p => Assert.All(p.Grad!.ToArray(), g => Assert.Equal(0f, g)));
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void An_optimiser_that_clears_the_gradients_steps_as_zero_grad_after_each_step_would(string deviceName)
    {
        GpuDevices.Require(deviceName);
        // Packed on the GPU (Adam with and without a schedule, SGD) and tensor by tensor on the CPU: the same
        // parameters bit for bit as ZeroGrad before every backward, with every gradient zero after each step.
        var gpu = GpuDevices.Get(deviceName);
        var backend = (CudaBackend)gpu.Backend;
        foreach (var (device, kind) in new[] { (gpu, "adam"), (gpu, "scheduled adam"), (gpu, "sgd"),
            (Device.Cpu, "adam"), (Device.Cpu, "sgd") })
        {
            Optimizer Make(Module model) =>
                kind == "sgd" ? new Sgd(model.Parameters(), 0.05f, momentum: 0.9f)
                    : new Adam(model.Parameters(), 1e-3f);
            var (zeroing, clearing) = (new LeNet5(seed: 38).To(device), new LeNet5(seed: 38).To(device));
            var (zeroingOptimizer, clearingOptimizer) = (Make(zeroing), Make(clearing));
            var schedule = kind == "scheduled adam" ? new StepSchedule(device, 3) : null;
            schedule?.StartEpoch(0, (Adam)clearingOptimizer);
            var losses = device.IsCpu ? null : Tensor.Zeros(device, 3);
            for (var step = 0; step < 3; step++)
            {
                var (pixels, labels) = Batch(3, 600 + step);
                Tensor Loss(Module model) =>
                    F.CrossEntropy(model.Forward(Tensor.FromArray(device, pixels, 3, 1, 32, 32)),
                        new Indices(labels).To(device));
                var zeroingLoss = Loss(zeroing);
                zeroingOptimizer.ZeroGrad();
                zeroingLoss.Backward();
                zeroingOptimizer.Step();

                var loss = Loss(clearing);
                loss.Backward();
                var (launches, memsets) = (backend.Launches, backend.Memsets);
                if (schedule is not null) schedule.EndStep(loss, losses!, clearingOptimizer);
                else clearingOptimizer.Step(zeroGradients: true);
                // On the GPU, packed: Adam clears in its one launch (the scheduled one also ends the step); SGD adds a
                // memset.
                if (!device.IsCpu)
                    Assert.Equal(kind == "sgd" ? (2L, 1L) : (1L, 0L),
                        (backend.Launches - launches, backend.Memsets - memsets));
                Assert.All(clearing.Parameters(), p => Assert.All(p.Grad!.ToArray(), g => Assert.Equal(0f, g)));
                Assert.Equal(zeroing.Parameters().SelectMany(p => p.ToArray()),
                    clearing.Parameters().SelectMany(p => p.ToArray()));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void An_intermediate_read_twice_by_one_op_gets_both_gradients(string deviceName)
    {
        GpuDevices.Require(deviceName);
        // F.Linear(h, h): h's gradient gets the input and the weight contribution of one backward kernel, in a reused
        // (uncleared) buffer on the second pass: the first must overwrite, the second add.
        var device = GpuDevices.Get(deviceName);
        var values = GradientCheck.Uniform(new Random(39), 36).Select(v => (float)v).ToArray();
        float[] Gradient(Device on, Workspace workspace)
        {
            using var scope = workspace.Begin();
            var x = Tensor.FromArray(on, values, 6, 6);
            x.RequiresGrad = true;
            var h = F.ReLU(x);
            var loss = F.CrossEntropy(F.Linear(h, h), new Indices([0, 1, 2, 3, 4, 5]).To(on));
            loss.Backward();
            return x.Grad!.ToArray();
        }
        var cpuWorkspace = new Workspace();
        var gpuWorkspace = new Workspace();
        var expected = Gradient(Device.Cpu, cpuWorkspace);
        Assert.Contains(expected, v => v != 0);
        for (var pass = 0; pass < 3; pass++)
            AssertClose(expected, Gradient(device, gpuWorkspace), $"pass {pass}");

        // The two parts go in two launches: in one, groups adding the input and the weight part to the same elements at
        // the same time could lose additions (a race a GPU showed, H200 run 5, and ILGPU's CPU accelerator does not).
        var kernels = ((CudaBackend)device.Backend).Kernels;
        var linearBackwards = new List<object[]>();
        kernels.LaunchObserver =
            (kernel, _, arguments) => { if (kernel == "LinearBackwardKernel") linearBackwards.Add(arguments); };
        try
        {
            AssertClose(expected, Gradient(device, gpuWorkspace), "observed pass");
        }
        finally
        {
            kernels.LaunchObserver = null;
        }
        Assert.Equal(2, linearBackwards.Count);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_reshaped_intermediate_also_used_directly_gets_both_gradients_in_either_order(string deviceName)
    {
        GpuDevices.Require(deviceName);
        // h feeds a reshape (whose gradient h borrows when it has none yet) and a Linear (which adds to h's gradient):
        // b = Linear(h.Reshape, Linear(h, W)) and the swapped Linear(Linear(h, W), h.Reshape) give h's two consumers in
        // both backward orders. Without the reshape (same arithmetic) the gradients must be the same, bit for bit on
        // one device.
        var device = GpuDevices.Get(deviceName);
        var random = new Random(42);
        var (x, w) = (GradientCheck.Uniform(random, 12).Select(v => (float)v).ToArray(),
            GradientCheck.Uniform(random, 36).Select(v => (float)v).ToArray());
        float[] Gradient(Device on, Workspace workspace, bool reshape, bool swap)
        {
            using var scope = workspace.Begin();
            var input = Tensor.FromArray(on, x, 2, 6);
            input.RequiresGrad = true;
            var h = F.ReLU(input);
            var a = F.Linear(h, Tensor.FromArray(on, w, 6, 6));
            var r = reshape ? h.Reshape(2, 6) : h;
            var loss = F.CrossEntropy(swap ? F.Linear(a, r) : F.Linear(r, a), new Indices([1, 0]).To(on));
            loss.Backward();
            return input.Grad!.ToArray();
        }
        foreach (var swap in new[] { false, true })
        {
            var (cpuWorkspace, gpuWorkspace) = (new Workspace(), new Workspace());
            var expected = Gradient(Device.Cpu, new Workspace(), reshape: false, swap);
            Assert.Contains(expected, v => v != 0);
            for (var pass = 0; pass < 3; pass++)
            {
                Assert.Equal(expected, Gradient(Device.Cpu, cpuWorkspace, reshape: true, swap));
                Assert.Equal(Gradient(device, new Workspace(), reshape: false, swap),
                    Gradient(device, gpuWorkspace, reshape: true, swap));
                AssertClose(expected, Gradient(device, gpuWorkspace, reshape: true, swap), $"swap {swap}, pass {pass}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Cross_entropy_writes_the_logits_gradient_in_its_forward_and_backward_uses_it_only_for_a_unit_seed(
        string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var backend = (CudaBackend)device.Backend;
        var random = new Random(43);
        var (x, w) = (GradientCheck.Uniform(random, 4 * 5).Select(v => (float)v).ToArray(),
            GradientCheck.Uniform(random, 3 * 5).Select(v => (float)v).ToArray());
        int[] labels = [2, 0, 1, 1];
        (float[] WeightGrad, float[]? LogitsLeafGrad, long BackwardLaunches) Run(Device on, int mode)
        {
            var weight = Tensor.FromArray(on, w, 3, 5);
            weight.RequiresGrad = true;
            // mode 0: loss.Backward() (the unit seed); 1: a [1] root (a seed buffer); 2: the logits a leaf.
            var logits = mode == 2
                ? Tensor.FromArray(on, F.Linear(Tensor.FromArray(x, 4, 5), Tensor.FromArray(w, 3, 5)).ToArray(), 4, 3)
                : F.Linear(Tensor.FromArray(on, x, 4, 5), weight);
            if (mode == 2) logits.RequiresGrad = true;
            var loss = F.CrossEntropy(logits, new Indices(labels).To(on));
            var before = (on.Backend as CudaBackend)?.Launches ?? 0;
            if (mode == 1) loss.Reshape(1).Backward();
            else loss.Backward();
            var launches = ((on.Backend as CudaBackend)?.Launches ?? 0) - before;
            return (mode == 2 ? [] : weight.Grad!.ToArray(), mode == 2 ? logits.Grad!.ToArray() : null, launches);
        }
        for (var mode = 0; mode < 3; mode++)
        {
            var expected = Run(Device.Cpu, mode);
            var actual = Run(device, mode);
            AssertClose(expected.WeightGrad, actual.WeightGrad, $"mode {mode}: weight gradient");
            if (mode == 2) AssertClose(expected.LogitsLeafGrad!, actual.LogitsLeafGrad!, "a leaf's logits gradient");
        }
        // The unit seed: only the Linear backward launches; a seed buffer: the fill, softmax-CE backward and Linear
        // backward (the reshape's input borrows the filled buffer).
        Assert.Equal(1, Run(device, 0).BackwardLaunches);
        Assert.Equal(3, Run(device, 1).BackwardLaunches);
        Assert.Equal(1, Run(device, 2).BackwardLaunches); // a leaf keeps its own gradient: the forward's is added to it
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void The_head_fused_with_its_loss_gives_the_loss_and_gradients_of_its_four_operations(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var backend = (CudaBackend)device.Backend;
        var random = new Random(44);
        float[] Values(int n, double scale = 1) =>
            GradientCheck.Uniform(random, n).Select(v => (float)(scale * v)).ToArray();
        const int N = 6, In = 12, Hidden = 9, Classes = 5;
        var (x, w0, w1, b1, w2, b2) = (Values(N * 7), Values(In * 7), Values(Hidden * In, 0.5), Values(Hidden, 0.2),
            Values(Classes * Hidden), Values(Classes));
        var labels = Enumerable.Range(0, N).Select(_ => random.Next(Classes)).ToArray();

        // The head's input is a Linear's output (its gradient borrowed from the fused forward) or a leaf (added to its
        // own); the loss seeds the backward with 1, or passes through a Tanh first (another gradient: the row kernel
        // runs again).
        (float Loss, float[][] Grads, long Forward, long Backward) Run(Device on, bool fused, bool leafInput, bool tanh)
        {
            Tensor Parameter(float[] values, params int[] shape)
            {
                var tensor = Tensor.FromArray(on, values, shape);
                tensor.RequiresGrad = true;
                return tensor;
            }
            var (pre, first, firstBias, second, secondBias) = (Parameter(w0, In, 7), Parameter(w1, Hidden, In),
                Parameter(b1, Hidden), Parameter(w2, Classes, Hidden), Parameter(b2, Classes));
            var leaf = leafInput
                ? Parameter(F.Linear(Tensor.FromArray(x, N, 7), Tensor.FromArray(w0, In, 7)).ToArray(), N, In)
                : null;
            var input = leaf ?? F.Linear(Tensor.FromArray(on, x, N, 7), pre);
            var onLabels = new Indices(labels).To(on);
            var launches = (on.Backend as CudaBackend)?.Launches ?? 0;
            var loss = fused ? F.HeadLoss(input, first, firstBias, second, secondBias, onLabels)
                : F.CrossEntropy(F.Linear(F.ReLU(F.Linear(input, first, firstBias)), second, secondBias), onLabels);
            var forward = ((on.Backend as CudaBackend)?.Launches ?? 0) - launches;
            var root = tanh ? F.Tanh(loss) : loss;
            launches = (on.Backend as CudaBackend)?.Launches ?? 0;
            root.Backward();
            var backward = ((on.Backend as CudaBackend)?.Launches ?? 0) - launches;
            float[][] grads = [(leaf ?? pre).Grad!.ToArray(), first.Grad!.ToArray(), firstBias.Grad!.ToArray(),
                second.Grad!.ToArray(), secondBias.Grad!.ToArray()];
            return (loss.Item(), grads, forward, backward);
        }

        Assert.True(backend.Options.FuseHead, "the fused head is on by default");
        foreach (var leafInput in new[] { false, true })
        foreach (var tanh in new[] { false, true })
        {
            var what = $"{(leafInput ? "leaf" : "intermediate")} input, {(tanh ? "through a Tanh" : "unit seed")}";
            var expected = Run(Device.Cpu, fused: false, leafInput, tanh);
            var actual = Run(device, fused: true, leafInput, tanh);
            Assert.True(Math.Abs(expected.Loss - actual.Loss) < 1e-5 * Math.Abs(expected.Loss),
                $"{what}: loss {actual.Loss} on {device}, {expected.Loss} on the CPU.");
            string[] names = [leafInput ? "input" : "the Linear before", "first weight", "first bias", "second weight",
                "second bias"];
            for (var i = 0; i < names.Length; i++)
                AssertClose(expected.Grads[i], actual.Grads[i], $"{what}: gradient of {names[i]}");
            // One launch forward; backward the weight gradients' launch, and: the Linear before's backward; for a leaf,
            // the forward's input gradient added to the leaf's; through a Tanh, its backward and the row kernel again
            // (which adds straight into a leaf's gradient).
            Assert.Equal(1, actual.Forward);
            Assert.Equal(1 + (leafInput && tanh ? 0 : 1) + (tanh ? 2 : 0), actual.Backward);
        }

        // Switched off (a backend option), the four operations run in turn on a GPU too, with the same results.
        var expectedLeaf = Run(Device.Cpu, fused: false, leafInput: true, tanh: false);
        var unfused = Run(GpuDevices.UnfusedHead, fused: true, leafInput: true, tanh: false);
        Assert.Equal(3, unfused.Forward);
        Assert.True(Math.Abs(expectedLeaf.Loss - unfused.Loss) < 1e-5 * Math.Abs(expectedLeaf.Loss));
        for (var i = 0; i < expectedLeaf.Grads.Length; i++)
            AssertClose(expectedLeaf.Grads[i], unfused.Grads[i], $"unfused: gradient {i}");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_head_whose_parameters_share_storage_runs_its_operations_in_turn(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var backend = (CudaBackend)device.Backend;
        var random = new Random(45);
        float[] Values(int n) => GradientCheck.Uniform(random, n).Select(v => (float)v).ToArray();
        var (x, w, b) = (Values(4 * 6), Values(6 * 6), Values(6));
        (float Loss, float[] WeightGrad, float[] BiasGrad, long Launches) Run(Device on)
        {
            // One square weight and one bias for both layers: their gradients are the same buffers.
            var (weight, bias) = (Tensor.FromArray(on, w, 6, 6), Tensor.FromArray(on, b, 6));
            weight.RequiresGrad = bias.RequiresGrad = true;
            var launches = (on.Backend as CudaBackend)?.Launches ?? 0;
            var loss = F.HeadLoss(Tensor.FromArray(on, x, 4, 6), weight, bias, weight, bias,
                new Indices([1, 5, 0, 3]).To(on));
            loss.Backward();
            return (loss.Item(), weight.Grad!.ToArray(), bias.Grad!.ToArray(),
                ((on.Backend as CudaBackend)?.Launches ?? 0) - launches);
        }
        var expected = Run(Device.Cpu);
        var actual = Run(device);
        Assert.True(Math.Abs(expected.Loss - actual.Loss) < 1e-5 * Math.Abs(expected.Loss));
        AssertClose(expected.WeightGrad, actual.WeightGrad, "shared weight's gradient");
        AssertClose(expected.BiasGrad, actual.BiasGrad, "shared bias's gradient");
        Assert.True(actual.Launches >= 5, $"{actual.Launches} launches: the fused head would have taken 2");
        Assert.True(backend.Options.FuseHead);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Linear_and_relu_fused_give_the_values_and_gradients_of_the_two(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var random = new Random(40);
        float[] Values(int n) => GradientCheck.Uniform(random, n).Select(v => (float)v).ToArray();
        var (x, w, b, g) = (Values(7 * 11), Values(5 * 11), Values(5), Values(7 * 5));
        (float[] Output, float[] InputGrad, float[] WeightGrad, float[] BiasGrad) Run(Device device, bool fused)
        {
            var input = Tensor.FromArray(device, x, 7, 11);
            var weight = Tensor.FromArray(device, w, 5, 11);
            var bias = Tensor.FromArray(device, b, 5);
            foreach (var t in new[] { input, weight, bias }) t.RequiresGrad = true;
            var output = fused ? F.LinearReLU(input, weight, bias) : F.ReLU(F.Linear(input, weight, bias));
            // loss = Σ output · g, so ∂loss/∂output = g
            var loss = F.Linear(output.Reshape(1, -1), Tensor.FromArray(device, g, 1, 7 * 5));
            loss.Reshape(1).Backward();
            return (output.ToArray(), input.Grad!.ToArray(), weight.Grad!.ToArray(), bias.Grad!.ToArray());
        }
        var expected = Run(Device.Cpu, fused: false);
        Assert.Contains(expected.Output, v => v == 0);
        Assert.Contains(expected.Output, v => v > 0);
        foreach (var (device, name) in new[] { (Device.Cpu, "CPU"), (GpuDevices.Get(deviceName), deviceName) })
        {
            var actual = Run(device, fused: true);
            AssertClose(expected.Output, actual.Output, $"{name}: output");
            AssertClose(expected.InputGrad, actual.InputGrad, $"{name}: input gradient");
            AssertClose(expected.WeightGrad, actual.WeightGrad, $"{name}: weight gradient");
            AssertClose(expected.BiasGrad, actual.BiasGrad, $"{name}: bias gradient");
        }
    }

    public static TheoryData<string, int> DevicesAndBlockSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in Devices())
            foreach (var size in new[] { 9, 10 })
                data.Add((string)device.Data, size);
        return data;
    }

    [Theory]
    [MemberData(nameof(DevicesAndBlockSizes))]
    public void Conv_batchnorm_relu_maxpool_fused_give_the_values_statistics_and_gradients_of_the_four(
        string deviceName, int size)
    {
        GpuDevices.Require(deviceName);
        // size 9: 7×7 convolution outputs, a row and a column outside every window; size 10: 8×8, the windows tile the
        // planes.
        int outputs = (size - 2) / 2;
        var random = new Random(41);
        float[] Values(int n) => GradientCheck.Uniform(random, n).Select(v => (float)v).ToArray();
        var (x, w, b, gamma, beta, g) = (Values(5 * 2 * size * size), Values(3 * 2 * 3 * 3), Values(3), Values(3),
            Values(3), Values(5 * 3 * outputs * outputs));
        (float[] Output, float[] RunningVar, float[] InputGrad, float[] WeightGrad, float[] BiasGrad, float[] GammaGrad,
            float[] BetaGrad, long Launches, long BackwardLaunches)
            Run(Device device, bool fused)
        {
            var block = new ConvBlock(2, 3, 3, pool: 2, new Random(1)).To(device);
            var (conv, norm) = (((ConvBlock)block).Conv, ((ConvBlock)block).Norm);
            conv.Weight.CopyFrom(w);
            conv.Bias!.CopyFrom(b);
            norm.Weight.CopyFrom(gamma);
            norm.Bias.CopyFrom(beta);
            var input = Tensor.FromArray(device, x, 5, 2, size, size);
            input.RequiresGrad = true;
            var backend = device.Backend as CudaBackend;
            var before = backend?.Launches ?? 0;
            var output = fused ? block.Forward(input)
                : F.MaxPool2d(F.ReLU(F.BatchNorm2d(F.Conv2d(input, conv.Weight, conv.Bias), norm.Weight, norm.Bias,
                    norm.RunningMean, norm.RunningVar, training: true)), 2);
            var launches = (backend?.Launches ?? 0) - before;
            // loss = Σ output · g, so ∂loss/∂output = g
            var loss = F.Linear(output.Reshape(1, -1), Tensor.FromArray(device, g, 1, 5 * 3 * outputs * outputs));
            before = backend?.Launches ?? 0;
            loss.Reshape(1).Backward();
            var backwardLaunches = (backend?.Launches ?? 0) - before - 2; // less the seed (a fill of one) and the
                                                                          // Linear's backward
            return (output.ToArray(), norm.RunningVar.ToArray(), input.Grad!.ToArray(), conv.Weight.Grad!.ToArray(),
                conv.Bias.Grad!.ToArray(),
                norm.Weight.Grad!.ToArray(), norm.Bias.Grad!.ToArray(), launches, backwardLaunches);
        }
        var expected = Run(Device.Cpu, fused: false);
        Assert.Contains(expected.Output, v => v == 0);
        Assert.Contains(expected.Output, v => v > 0);
        var device = GpuDevices.Get(deviceName);
        foreach (var (on, fused, name) in new[] { (Device.Cpu, true, "CPU"), (Device.CpuReference, true, "Reference"),
            (device, false, $"{deviceName} unfused"), (device, true, deviceName) })
        {
            var actual = Run(on, fused);
            AssertClose(expected.Output, actual.Output, $"{name}: output");
            AssertClose(expected.RunningVar, actual.RunningVar, $"{name}: running variance");
            AssertClose(expected.InputGrad, actual.InputGrad, $"{name}: input gradient");
            AssertClose(expected.WeightGrad, actual.WeightGrad, $"{name}: conv weight gradient");
            // (The conv bias's gradient is zero but for rounding — BatchNorm takes the mean out — so it is not
            // compared.)
            AssertClose(expected.GammaGrad, actual.GammaGrad, $"{name}: gamma gradient");
            AssertClose(expected.BetaGrad, actual.BetaGrad, $"{name}: beta gradient");
        }
        // On the GPU the convolution writes BatchNorm's statistics: two launches instead of four. Backward: the block's
        // two (gradient sums, then the convolution output's gradient) and the convolution's two.
        var fusedRun = Run(device, fused: true);
        Assert.Equal(4, Run(device, fused: false).Launches);
        Assert.Equal(2, fusedRun.Launches);
        Assert.Equal(4, fusedRun.BackwardLaunches);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Packed_tensors_keep_their_values_and_stay_apart(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var a = Tensor.FromArray(device, [1f, 2f, 3f], 3);
        var b = Tensor.FromArray(device, [4f, 5f, 6f], 3);
        Assert.Null(Tensor.Pack([a, a]));
        Assert.Null(Tensor.Pack([a, Tensor.FromArray([0f], 1)]));
        var flat = Tensor.Pack([a, b])!;
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], flat.ToArray());
        b.CopyFrom([7f, 8f, 9f]);
        Assert.Equal([1f, 2f, 3f], a.ToArray());
        Assert.Equal([1f, 2f, 3f, 7f, 8f, 9f], flat.ToArray());
        // Same buffer, same shape, different slices: a workspace must not hand out a view of one for the other.
        Assert.False(a.IsViewOf(b, [3]));
        Assert.True(a.Detach().IsViewOf(a, [3]));
        Assert.True(a.IsPackedIn(flat) && b.IsPackedIn(flat));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Moving_a_model_to_the_gpu_and_back_keeps_every_value(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var model = new LeNet5(seed: 35);
        var before = model.StateDict().Select(e => e.Tensor.ToArray()).ToArray();
        model.To(device);
        Assert.All(model.StateDict(), e => Assert.Same(device, e.Tensor.Device));
        Assert.Equal(before, model.StateDict().Select(e => e.Tensor.ToArray()).ToArray());
        model.To(Device.Cpu);
        Assert.All(model.StateDict(), e => Assert.Same(Device.Cpu, e.Tensor.Device));
        Assert.Equal(before, model.StateDict().Select(e => e.Tensor.AsSpan().ToArray()).ToArray());
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_model_on_the_gpu_saves_and_loads_as_on_the_cpu(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var folder = Directory.CreateTempSubdirectory("lenet-gpu-save-");
        try
        {
            var cpu = new LeNet5(seed: 36);
            var gpu = new LeNet5(seed: 36).To(device);
            SafeTensors.Save(Path.Combine(folder.FullName, "cpu.safetensors"), cpu.StateDict());
            SafeTensors.Save(Path.Combine(folder.FullName, "gpu.safetensors"), gpu.StateDict());
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder.FullName, "cpu.safetensors")),
                File.ReadAllBytes(Path.Combine(folder.FullName, "gpu.safetensors")));

            var other = new LeNet5(seed: 99).To(device);
            other.LoadStateDict(SafeTensors.Load(Path.Combine(folder.FullName, "cpu.safetensors")).Tensors);
            Assert.Equal(cpu.StateDict().Select(e => e.Tensor.ToArray()),
                other.StateDict().Select(e => e.Tensor.ToArray()));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Host_only_operations_on_a_gpu_tensor_fail_with_a_sentence(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var tensor = Tensor.FromArray(device, [1f, 2f, 3f, 4f], 2, 2);
        var message = Assert.Throws<InvalidOperationException>(() => tensor.AsSpan()).Message;
        Assert.Contains("device memory", message);
        Assert.Equal([1f, 2f, 3f, 4f], tensor.ToArray());
        tensor.CopyFrom([5f, 6f, 7f, 8f]);
        Assert.Equal([5f, 6f, 7f, 8f], tensor.To(Device.Cpu).AsSpan().ToArray());
        Assert.Equal(7f, tensor.Reshape(4).ToArray()[2]);

        var labelsOnHost = Assert.Throws<ArgumentException>(() => F.CrossEntropy(tensor, [0, 1])).Message;
        Assert.Contains("Indices.To(device)", labelsOnHost);
        var mixed = Assert.Throws<ArgumentException>(() => F.Linear(tensor, Tensor.Zeros(2, 2))).Message;
        Assert.Contains("different devices", mixed);
    }

    private static float Step(Module model, Optimizer optimizer, Tensor input, Indices labels)
    {
        var loss = F.CrossEntropy(model.Forward(input), labels);
        optimizer.ZeroGrad();
        loss.Backward();
        optimizer.Step();
        return loss.Item();
    }
}
