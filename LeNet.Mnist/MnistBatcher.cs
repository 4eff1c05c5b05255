namespace LeNet.Mnist;

/// <summary>
/// Serves a dataset in mini-batches, epoch by epoch, copying into buffers the caller owns so that a
/// training loop allocates nothing per batch. The last batch of an epoch is kept even when it is
/// partial, as PyTorch's DataLoader does by default.
/// </summary>
/// <remarks>
/// The shuffled order of epoch <c>e</c> is <see cref="Permutation"/>(Count, seed, e): a Fisher–Yates
/// shuffle of 0..Count−1 driven by <c>new System.Random(unchecked(seed * 1_000_003 + e))</c>. Each
/// epoch's order thus depends on the seed and the epoch number alone, not on how many epochs came
/// before, so a run resumed at epoch e sees exactly the order the uninterrupted run saw.
/// </remarks>
public sealed class MnistBatcher
{
    private readonly int[] _order;

    /// <param name="shuffle">False serves the dataset in file order every epoch, for evaluation.</param>
    public MnistBatcher(MnistDataset dataset, int batchSize, bool shuffle, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        _order = new int[dataset.Count];
        StartEpoch(0);
    }

    public MnistDataset Dataset { get; }

    public int BatchSize { get; }

    public bool Shuffle { get; }

    public int Seed { get; }

    /// <summary>The epoch whose order is being served.</summary>
    public int Epoch { get; private set; }

    /// <summary>Batches per epoch, the last one possibly partial.</summary>
    public int BatchCount => (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>The dataset indices in the order this epoch serves them.</summary>
    public ReadOnlySpan<int> Order => _order;

    /// <summary>
    /// Switches to epoch <paramref name="epoch"/> (0-based): its permutation, or file order when not shuffling.
    /// </summary>
    public void StartEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Epoch = epoch;
        if (Shuffle)
            FillPermutation(_order, Seed, epoch);
        else
            for (int i = 0; i < _order.Length; i++)
                _order[i] = i;
    }

    /// <summary>
    /// The number of images in batch <paramref name="batch"/>: <see cref="BatchSize"/>, or fewer for the last one.
    /// </summary>
    public int BatchLength(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(batch, BatchCount);
        return Math.Min(BatchSize, Dataset.Count - batch * BatchSize);
    }

    /// <summary>
    /// The dataset indices of batch <paramref name="batch"/>, e.g. to gather on a device that holds the whole dataset.
    /// </summary>
    public ReadOnlySpan<int> BatchIndices(int batch) => Order.Slice(batch * BatchSize, BatchLength(batch));

    /// <summary>
    /// Copies batch <paramref name="batch"/> into <paramref name="images"/> ([n, 1, S, S]) and
    /// <paramref name="labels"/> ([n]); returns n. The buffers may be longer than needed, so one pair
    /// sized for <see cref="BatchSize"/> serves every batch.
    /// </summary>
    public int CopyBatch(int batch, Span<float> images, Span<int> labels)
    {
        ReadOnlySpan<int> indices = BatchIndices(batch);
        int imageLength = Dataset.ImageLength;
        if (images.Length < indices.Length * imageLength)
            throw new ArgumentException($"The images buffer holds {images.Length} floats; batch {batch} needs " +
                $"{indices.Length * imageLength}.", nameof(images));
        if (labels.Length < indices.Length)
            throw new ArgumentException($"The labels buffer holds {labels.Length} labels; batch {batch} needs " +
                $"{indices.Length}.", nameof(labels));
        ReadOnlySpan<float> allImages = Dataset.Images;
        ReadOnlySpan<int> allLabels = Dataset.Labels;
        for (int k = 0; k < indices.Length; k++)
        {
            int index = indices[k];
            allImages.Slice(index * imageLength, imageLength).CopyTo(images.Slice(k * imageLength, imageLength));
            labels[k] = allLabels[index];
        }
        return indices.Length;
    }

    /// <summary>
    /// The shuffled order of epoch <paramref name="epoch"/> for <paramref name="count"/> items (see the class remarks).
    /// </summary>
    public static int[] Permutation(int count, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        FillPermutation(order, seed, epoch);
        return order;
    }

    /// <summary>
    /// Writes the shuffled order of epoch <paramref name="epoch"/> for <c>destination.Length</c> items.
    /// </summary>
    public static void FillPermutation(Span<int> destination, int seed, int epoch)
    {
        for (int i = 0; i < destination.Length; i++)
            destination[i] = i;
        // Seeded System.Random has kept its algorithm (Knuth's subtractive generator) since .NET Framework
        // for compatibility; a test checks it against the algorithm written out, so a change would be noticed.
        var random = new Random(unchecked(seed * 1_000_003 + epoch));
        for (int i = destination.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (destination[i], destination[j]) = (destination[j], destination[i]);
        }
    }
}
