namespace LeNet.Train;

/// <summary>An option that is valid alone but not for this run (e.g. a batch larger than the dataset).</summary>
public sealed class OptionException(string message) : Exception(message);
