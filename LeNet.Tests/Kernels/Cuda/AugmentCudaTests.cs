using ILGPU;
using ILGPU.Runtime;
using LeNet.Kernels;
using LeNet.Kernels.Cuda;
using Reference = LeNet.Kernels.Reference;

namespace LeNet.Tests.Kernels.Cuda;

/// <summary>
/// The augmenting gather against Reference.Augment, by a sliced order and at a cursor. On the CPU accelerator the
/// kernel runs .NET's float arithmetic, so the match is exact; a GPU's sin.approx/cos.approx (absolute error ~2⁻²¹)
/// and fused multiply-adds move a source coordinate by ~1e-5 px, so a value by less than 1e-4 (slopes ≤ 3.3 a pixel).
/// </summary>
[Collection(CudaKernelCollection.Name)]
public class AugmentCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    private const int Count = 23, Size = 13;

    /// <summary>The batch written against Reference's distortion of images order[start ..], and their labels.</summary>
    private static void AssertBatch(string device, UploadedSet set, int start, Augmentation augmentation, int seed,
        int epoch, MemoryBuffer1D<float, Stride1D.Dense> batchImages, MemoryBuffer1D<int, Stride1D.Dense> batchLabels)
    {
        var batch = (int)batchLabels.Length;
        var expected = new float[batch * Size * Size];
        Reference.Augment.Apply(set.Images, set.Order.AsSpan(start, batch), expected, Size, augmentation, seed, epoch);
        set.Kernels.Synchronize();
        var actual = batchImages.GetAsArray1D();
        if (device == AcceleratorFixture.Cpu)
            Assert.Equal(expected, actual);
        else
            for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-4f);
        Assert.Equal(set.Order.Skip(start).Take(batch).Select(i => set.Labels[i]), batchLabels.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Distorts_the_batch_gathered_by_the_order_as_Reference_does(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        using var set = new UploadedSet(kernels, 61_000);
        const int start = 4, batch = 15;
        using var draw = kernels.Upload([7, 3]);
        using var batchImages = kernels.Zeros(batch * Size * Size);
        using var batchLabels = kernels.Upload(new int[batch]);
        foreach (var augmentation in new[] { AugmentTests.Wide, new Augmentation(-0.4242f) })
        {
            kernels.Augment(set.ImagesBuffer.View, set.LabelsBuffer.View, set.OrderBuffer.View.SubView(start, batch),
                batchImages.View, batchLabels.View, Size, augmentation, draw.View);
            AssertBatch(device, set, start, augmentation, 7, 3, batchImages, batchLabels);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void At_the_cursor_reads_the_step_and_the_epoch_on_the_device(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        using var set = new UploadedSet(kernels, 62_000);
        const int stride = 6;
        using var cursor = kernels.Upload(new int[1]);
        using var draw = kernels.Upload(new int[2]);
        // The same launch each time; only the device's cursor and epoch change. The last step holds 5 images.
        foreach (var (step, epoch, batch) in new[] { (0, 1, 6), (2, 1, 6), (2, 2, 6), (3, 2, 5) })
        {
            cursor.View.CopyFromCPU([step]);
            draw.View.CopyFromCPU([5, epoch]);
            using var batchImages = kernels.Zeros(batch * Size * Size);
            using var batchLabels = kernels.Upload(new int[batch]);
            kernels.AugmentAtCursor(set.ImagesBuffer.View, set.LabelsBuffer.View, set.OrderBuffer.View, cursor.View,
                stride, batchImages.View, batchLabels.View, Size, AugmentTests.Wide, draw.View);
            AssertBatch(device, set, step * stride, AugmentTests.Wide, 5, epoch, batchImages, batchLabels);
        }
    }

    /// <summary>A random set of <see cref="Count"/> images, their labels and a shuffled order, uploaded.</summary>
    private sealed class UploadedSet : IDisposable
    {
        public UploadedSet(CudaKernels kernels, int seed)
        {
            Kernels = kernels;
            (Images, Labels, Order) = AugmentTests.RandomSet(new Random(seed), Count, Size);
            ImagesBuffer = kernels.Accelerator.Allocate1D(Images);
            LabelsBuffer = kernels.Upload(Labels);
            OrderBuffer = kernels.Upload(Order);
        }

        public CudaKernels Kernels { get; }
        public float[] Images { get; }
        public int[] Labels { get; }
        public int[] Order { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> ImagesBuffer { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> LabelsBuffer { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> OrderBuffer { get; }

        public void Dispose()
        {
            ImagesBuffer.Dispose();
            LabelsBuffer.Dispose();
            OrderBuffer.Dispose();
        }
    }
}
