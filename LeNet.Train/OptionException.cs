namespace LeNet.Train;

/// <summary>An option that is valid alone but not for this run (e.g. a batch larger than the dataset).</summary>
public sealed class OptionException(string message) : Exception(message)
{
    /// <summary>Refuses a <paramref name="value"/> above the <paramref name="count"/> images there are.</summary>
    public static void ThrowIfAbove(string option, int? value, int count, string images)
    {
        if (value > count) throw new OptionException($"{option} {value} exceeds the {count} {images} images.");
    }
}
