namespace LeNet.Core.Training;

/// <summary>
/// A training step could not be captured for replay (on a GPU, as a CUDA graph); the message gives the driver's reason.
/// Nothing of the failed step ran, so the state is that after the step before.
/// </summary>
public sealed class StepCaptureException(string message, Exception inner) : Exception(message, inner);
