using LeNet.Core;
using LeNet.Core.Cuda;
using LeNet.Core.Training;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using LeNet.Tests.Kernels;
using Reference = LeNet.Kernels.Reference;

namespace LeNet.Tests.Core;

/// <summary>
/// A batch source with an augmentation serves the Reference distortion of the images it gathers, drawn for its seed
/// and epoch: on the CPU (the SIMD kernel, exact), and on a GPU device by a slice of the order and at a schedule's
/// cursor (exact on the CPU accelerator; see AugmentCudaTests for a GPU's 1e-4), where a new epoch changes the draw but
/// not the launch, as a replayed captured step needs.
/// </summary>
[Collection(GpuDeviceCollection.Name)]
public class AugmentedBatchTests
{
    public static TheoryData<string> Devices() => GpuDevices.Names();

    private const int Images = 18, BatchSize = 5, Side = 32, Seed = 7;

    private static (float[] Pixels, int[] Labels, int[] Order) Set() =>
        AugmentTests.RandomSet(new Random(63_000), Images, Side);

    private static float[] Expected(float[] pixels, ReadOnlySpan<int> indices, int epoch)
    {
        var batch = new float[indices.Length * Side * Side];
        Reference.Augment.Apply(pixels, indices, batch, Side, AugmentTests.Wide, Seed, epoch);
        return batch;
    }

    private static void AssertMatches(string device, float[] expected, float[] actual)
    {
        if (device != GpuDevices.Cuda)
            Assert.Equal(expected, actual);
        else
            for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-4f);
    }

    [Fact]
    public void Host_batches_are_the_reference_distortion_of_the_gathered_images()
    {
        var (pixels, labels, order) = Set();
        var source = BatchSource.Create(Device.Cpu, pixels, labels, 1, Side, Side);
        source.SetOrder(order);
        var plain = source.Batch(5, 6).Images.ToArray();

        source.SetAugmentation(AugmentTests.Wide, Seed);
        source.SetEpoch(2);
        var (images, batchLabels) = source.Batch(5, 6);
        Assert.Equal(Expected(pixels, order.AsSpan(5, 6), 2), images.ToArray());
        Assert.Equal(order[5..11].Select(i => labels[i]), batchLabels.ToArray());
        source.SetEpoch(3);
        var nextEpoch = source.Batch(5, 6).Images.ToArray();
        Assert.Equal(Expected(pixels, order.AsSpan(5, 6), 3), nextEpoch);
        Assert.NotEqual(Expected(pixels, order.AsSpan(5, 6), 2), nextEpoch);

        source.SetAugmentation(null, Seed);
        Assert.Equal(plain, source.Batch(5, 6).Images.ToArray());
    }

    [Fact]
    public void Only_square_one_channel_images_can_be_augmented()
    {
        var (pixels, labels, _) = Set();
        var source = BatchSource.Create(Device.Cpu, pixels, labels, 2, 16, Side);
        Assert.Throws<InvalidOperationException>(() => source.SetAugmentation(AugmentTests.Wide, Seed));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            BatchSource.Create(Device.Cpu, pixels, labels, 1, Side, Side).SetAugmentation(new(0, Scale: 2), Seed));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Device_batches_by_a_slice_and_at_the_cursor_are_the_reference_distortion(string deviceName)
    {
        GpuDevices.Require(deviceName);
        var device = GpuDevices.Get(deviceName);
        var (pixels, labels, order) = Set();
        var data = new DeviceDataset(device, pixels, labels, 1, Side, Side);
        data.SetOrder(order);
        data.SetEpoch(1);
        data.SetAugmentation(AugmentTests.Wide, Seed);
        var schedule = new StepSchedule(device, (Images + BatchSize - 1) / BatchSize);

        var launches = new List<(string Kernel, ILGPU.KernelConfig Config, object[] Arguments)>();
        var kernels = ((CudaBackend)device.Backend).Kernels;
        foreach (var epoch in new[] { 1, 2 })
        {
            data.SetEpoch(epoch);
            foreach (var (step, count) in new[] { (1, BatchSize), (3, 3) })
            {
                schedule.StartEpoch(step);
                kernels.LaunchObserver = (kernel, config, arguments) => launches.Add((kernel, config, arguments));
                try
                {
                    var (images, batchLabels) = data.Batch(schedule, BatchSize, count);
                    var indices = order.AsSpan(step * BatchSize, count);
                    AssertMatches(deviceName, Expected(pixels, indices, epoch), images.ToArray());
                    Assert.Equal(indices.ToArray().Select(i => labels[i]), batchLabels.ToArray());
                }
                finally { kernels.LaunchObserver = null; }
            }
        }
        // One launch a batch, the same for a full batch whatever the step and the epoch (both read on the device).
        Assert.Equal(4, launches.Count);
        Assert.All(launches, launch => Assert.Equal("AugmentAtCursorKernel", launch.Kernel));
        Assert.Equal(launches[0].Config, launches[2].Config);
        Assert.True(launches[0].Arguments.SequenceEqual(launches[2].Arguments));

        var sliced = data.Batch(4, BatchSize);
        AssertMatches(deviceName, Expected(pixels, order.AsSpan(4, BatchSize), 2), sliced.Images.ToArray());
        Assert.Equal(order[4..9].Select(i => labels[i]), sliced.Labels.ToArray());
    }
}
