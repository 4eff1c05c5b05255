using ILGPU.Runtime;
using static LeNet.Tests.Kernels.Cuda.DeviceData;

namespace LeNet.Tests.Kernels.Cuda;

[Collection(CudaKernelCollection.Name)]
public class GatherCudaTests(AcceleratorFixture fixture)
{
    public static TheoryData<string> Devices() => AcceleratorFixture.Devices();

    [Theory]
    [MemberData(nameof(Devices))]
    public void GathersTheBatchByTheShuffledOrder(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        const int start = 5, batch = 11;
        var (images, labels, order) = Set(new Random(44_000));

        using var imagesBuffer = kernels.Upload(images);
        using var labelsBuffer = kernels.Upload(labels);
        using var orderBuffer = kernels.Upload(order);
        using var batchImages = kernels.Zeros(batch * ImageSize);
        using var batchLabels = kernels.Upload(new int[batch]);
        kernels.Gather(imagesBuffer.View, labelsBuffer.View, orderBuffer.View.SubView(start, batch), batchImages.View,
            batchLabels.View, ImageSize);

        var expectedImages = Enumerable.Range(start, batch)
            .SelectMany(b => images.Skip(order[b] * ImageSize).Take(ImageSize)).ToArray();
        var expectedLabels = Enumerable.Range(start, batch).Select(b => labels[order[b]]).ToArray();
        Assert.Equal(expectedImages, kernels.Download(batchImages)); // a copy: exact
        Assert.Equal(expectedLabels, kernels.Download(batchLabels));
    }

    private const int Count = 23, ImageSize = 37;

    /// <summary>A set of 23 random images of 37 pixels, their labels and a shuffled order.</summary>
    private static (double[] Images, int[] Labels, int[] Order) Set(Random rng) =>
        (Uniform(rng, Count * ImageSize), Enumerable.Range(0, Count).Select(_ => rng.Next(10)).ToArray(),
         Enumerable.Range(0, Count).OrderBy(_ => rng.Next()).ToArray());

    [Theory]
    [MemberData(nameof(Devices))]
    public void Gather_at_the_cursor_equals_gather_of_the_slice_it_points_to(string device)
    {
        AcceleratorFixture.Require(device);
        var kernels = fixture.Kernels(device);
        const int stride = 6;
        var (images, labels, order) = Set(new Random(52_000));
        using var imagesBuffer = kernels.Upload(images);
        using var labelsBuffer = kernels.Upload(labels);
        using var orderBuffer = kernels.Upload(order);
        using var cursor = kernels.Upload(new int[1]);
        // Steps 0..2 are full batches of 6; step 3 is the last 5 images.
        foreach (var (step, batch) in new[] { (0, 6), (2, 6), (3, 5) })
        {
            cursor.View.CopyFromCPU([step]);
            using var atCursor = kernels.Zeros(batch * ImageSize);
            using var atCursorLabels = kernels.Upload(new int[batch]);
            using var sliced = kernels.Zeros(batch * ImageSize);
            using var slicedLabels = kernels.Upload(new int[batch]);
            kernels.GatherAtCursor(imagesBuffer.View, labelsBuffer.View, orderBuffer.View, cursor.View, stride,
                atCursor.View, atCursorLabels.View, ImageSize);
            kernels.Gather(imagesBuffer.View, labelsBuffer.View, orderBuffer.View.SubView(step * stride, batch),
                sliced.View, slicedLabels.View, ImageSize);
            Assert.Equal(kernels.Download(sliced), kernels.Download(atCursor));
            Assert.Equal(kernels.Download(slicedLabels), kernels.Download(atCursorLabels));
            Assert.Equal(Enumerable.Range(step * stride, batch).Select(b => labels[order[b]]),
                kernels.Download(atCursorLabels));
        }
    }
}
