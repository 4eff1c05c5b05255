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
        var kernels = fixture.Kernels(device);
        var rng = new Random(44_000);
        const int count = 23, imageSize = 37, start = 5, batch = 11;
        var images = Uniform(rng, count * imageSize);
        var labels = Enumerable.Range(0, count).Select(_ => rng.Next(10)).ToArray();
        var order = Enumerable.Range(0, count).OrderBy(_ => rng.Next()).ToArray();

        using var imagesBuffer = kernels.Upload(images);
        using var labelsBuffer = kernels.Upload(labels);
        using var orderBuffer = kernels.Upload(order);
        using var batchImages = kernels.Zeros(batch * imageSize);
        using var batchLabels = kernels.Upload(new int[batch]);
        kernels.Gather(imagesBuffer.View, labelsBuffer.View, orderBuffer.View.SubView(start, batch), batchImages.View, batchLabels.View, imageSize);

        var expectedImages = Enumerable.Range(start, batch).SelectMany(b => images.Skip(order[b] * imageSize).Take(imageSize)).ToArray();
        var expectedLabels = Enumerable.Range(start, batch).Select(b => labels[order[b]]).ToArray();
        Assert.Equal(expectedImages, kernels.Download(batchImages)); // a copy: exact
        Assert.Equal(expectedLabels, kernels.Download(batchLabels));
    }
}
