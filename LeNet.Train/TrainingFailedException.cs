namespace LeNet.Train;

/// <summary>
/// A run that could not go on for a reason of its setup (e.g. a CUDA graph the driver refused); the message is one
/// sentence for the user.
/// </summary>
public sealed class TrainingFailedException(string message) : Exception(message);
