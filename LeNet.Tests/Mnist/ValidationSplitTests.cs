using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>The held-out validation set (issue 20): seeded, stratified, disjoint, the same on every machine.</summary>
public class ValidationSplitTests
{
    /// <summary>An uneven set: class c has 10 + 7c images, each image's one pixel its index (to trace it).</summary>
    private static MnistDataset Uneven()
    {
        var labels = Enumerable.Range(0, 10).SelectMany(c => Enumerable.Repeat(c, 10 + 7 * c)).ToArray();
        var images = new float[labels.Length * 4];
        for (var i = 0; i < labels.Length; i++) images[4 * i] = i;
        return new MnistDataset(images, labels, imageSize: 2);
    }

    [Fact]
    public void Every_class_gives_its_share_and_the_parts_are_disjoint_and_whole()
    {
        var data = Uneven();

        var (train, validation) = data.SplitValidation(83, seed: 4);

        Assert.Equal(83, validation.Count);
        Assert.Equal(data.Count - 83, train.Count);
        for (var c = 0; c < 10; c++)
        {
            var share = 83.0 * (10 + 7 * c) / data.Count;
            Assert.InRange(validation.Labels.Count(l => l == c), Math.Floor(share), Math.Ceiling(share));
        }
        var ids = (MnistDataset d) => Enumerable.Range(0, d.Count).Select(i => (int)d.Images[4 * i]).ToArray();
        Assert.Empty(ids(train).Intersect(ids(validation)));
        Assert.Equal(Enumerable.Range(0, data.Count), ids(train).Concat(ids(validation)).Order());
        Assert.Equal(ids(validation).Order(), ids(validation)); // file order kept
        Assert.All(ids(validation), id =>
            Assert.Equal(data.Labels[id], validation.Labels[Array.IndexOf(ids(validation), id)]));
    }

    [Fact]
    public void The_seed_alone_decides_the_split()
    {
        var data = Uneven();
        var first = data.SplitValidation(50, seed: 7).Validation;
        var again = data.SplitValidation(50, seed: 7).Validation;
        var other = data.SplitValidation(50, seed: 8).Validation;

        Assert.Equal(first.Images, again.Images);
        Assert.NotEqual(first.Images, other.Images);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(415)]
    public void A_validation_set_of_none_or_all_is_refused(int count) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Uneven().SplitValidation(count, 0));
}
