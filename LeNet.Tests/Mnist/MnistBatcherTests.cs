using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

public sealed class MnistBatcherTests
{
    /// <summary>A dataset whose image i is filled with the value i and whose label is i mod 10, so batches can be
    /// traced back.</summary>
    private static MnistDataset Numbered(int count, int imageSize = 2)
    {
        int length = imageSize * imageSize;
        float[] images = Enumerable.Range(0, count * length).Select(v => (float)(v / length)).ToArray();
        return new MnistDataset(images, Enumerable.Range(0, count).Select(i => i % 10).ToArray(), imageSize);
    }

    private static List<int[]> Epoch(MnistBatcher batcher, int epoch)
    {
        batcher.StartEpoch(epoch);
        var images = new float[batcher.BatchSize * batcher.Dataset.ImageLength];
        var labels = new int[batcher.BatchSize];
        var batches = new List<int[]>();
        for (int b = 0; b < batcher.BatchCount; b++)
        {
            int n = batcher.CopyBatch(b, images, labels);
            var served = new int[n];
            for (int k = 0; k < n; k++)
            {
                served[k] = (int)images[k * batcher.Dataset.ImageLength];
                Assert.All(images.AsSpan(k * batcher.Dataset.ImageLength, batcher.Dataset.ImageLength).ToArray(), v =>
                    Assert.Equal(served[k], v));
                Assert.Equal(served[k] % 10, labels[k]);
            }
            Assert.Equal(batcher.BatchIndices(b).ToArray(), served);
            batches.Add(served);
        }
        return batches;
    }

    [Fact]
    public void LastPartialBatchIsKept()
    {
        var batcher = new MnistBatcher(Numbered(10), batchSize: 4, shuffle: true, seed: 1);
        Assert.Equal(3, batcher.BatchCount);
        Assert.Equal([4, 4, 2], Epoch(batcher, 0).Select(b => b.Length));
    }

    [Fact]
    public void EveryIndexOnceAnEpoch()
    {
        var batcher = new MnistBatcher(Numbered(1000), batchSize: 64, shuffle: true, seed: 7);
        for (int epoch = 0; epoch < 3; epoch++)
            Assert.Equal(Enumerable.Range(0, 1000), Epoch(batcher, epoch).SelectMany(b => b).Order());
    }

    [Fact]
    public void SameSeedSameOrderOtherEpochOtherOrder()
    {
        MnistDataset dataset = Numbered(500);
        var first = new MnistBatcher(dataset, 32, shuffle: true, seed: 42);
        var second = new MnistBatcher(dataset, 32, shuffle: true, seed: 42);
        var otherSeed = new MnistBatcher(dataset, 32, shuffle: true, seed: 43);

        int[] epoch0 = Epoch(first, 0).SelectMany(b => b).ToArray();
        int[] epoch1 = Epoch(first, 1).SelectMany(b => b).ToArray();
        Assert.Equal(epoch0, Epoch(second, 0).SelectMany(b => b));
        Assert.NotEqual(epoch0, epoch1);
        Assert.NotEqual(epoch0, Epoch(otherSeed, 0).SelectMany(b => b));
        Assert.NotEqual(Enumerable.Range(0, 500), epoch0);
        // An epoch's order depends on (seed, epoch) only: resuming at epoch 1 gives what running through epoch 0 gave.
        Assert.Equal(epoch1, Epoch(second, 1).SelectMany(b => b));
        Assert.Equal(epoch1, MnistBatcher.Permutation(500, seed: 42, epoch: 1));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(42, 9)]
    [InlineData(-7, 3)]
    [InlineData(int.MaxValue, 1)]
    public void PermutationFollowsTheDocumentedScheme(int seed, int epoch)
    {
        // Guards the documented scheme against a change in System.Random's seeded algorithm: Knuth's
        // subtractive generator as .NET has implemented it since .NET Framework 1.0, written out here.
        var random = new SubtractiveGenerator(unchecked(seed * 1_000_003 + epoch));
        int[] expected = Enumerable.Range(0, 1000).ToArray();
        for (int i = expected.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (expected[i], expected[j]) = (expected[j], expected[i]);
        }
        Assert.Equal(expected, MnistBatcher.Permutation(1000, seed, epoch));
    }

    private sealed class SubtractiveGenerator
    {
        private const int Big = int.MaxValue, SeedBase = 161803398;
        private readonly int[] _state = new int[56];
        private int _next, _nextPrime = 21;

        public SubtractiveGenerator(int seed)
        {
            int current = SeedBase - (seed == int.MinValue ? int.MaxValue : Math.Abs(seed));
            _state[55] = current;
            int previous = 1;
            for (int i = 1; i < 55; i++)
            {
                int index = 21 * i % 55;
                _state[index] = previous;
                previous = current - previous;
                if (previous < 0)
                    previous += Big;
                current = _state[index];
            }
            for (int round = 1; round < 5; round++)
                for (int i = 1; i < 56; i++)
                {
                    _state[i] -= _state[1 + (i + 30) % 55];
                    if (_state[i] < 0)
                        _state[i] += Big;
                }
        }

        public int Next(int maxValue)
        {
            if (++_next >= 56)
                _next = 1;
            if (++_nextPrime >= 56)
                _nextPrime = 1;
            int value = _state[_next] - _state[_nextPrime];
            if (value == Big)
                value--;
            if (value < 0)
                value += Big;
            _state[_next] = value;
            return (int)(value * (1.0 / Big) * maxValue);
        }
    }

    [Fact]
    public void UnshuffledServesFileOrder()
    {
        var batcher = new MnistBatcher(Numbered(10), batchSize: 3, shuffle: false, seed: 5);
        Assert.Equal(Enumerable.Range(0, 10), Epoch(batcher, 4).SelectMany(b => b));
    }

    [Fact]
    public void TooSmallBuffersAreRefused()
    {
        var batcher = new MnistBatcher(Numbered(10), batchSize: 4, shuffle: false);
        Assert.Throws<ArgumentException>(() => batcher.CopyBatch(0, new float[15], new int[4]));
        Assert.Throws<ArgumentException>(() => batcher.CopyBatch(0, new float[16], new int[3]));
        Assert.Equal(2, batcher.CopyBatch(2, new float[8], new int[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => batcher.CopyBatch(3, new float[16], new int[4]));
    }
}
