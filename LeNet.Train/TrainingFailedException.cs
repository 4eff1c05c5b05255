namespace LeNet.Train;

/// <summary>A run that could not go on for a reason of its setup (e.g. a CUDA graph the driver refused).</summary>
public sealed class TrainingFailedException(string message) : Exception(message);
