namespace LeNet.Train;

/// <summary>
/// The run was asked to stop (Ctrl-C, SIGTERM) and did, after saving its last completed step; the message says where
/// and how to resume.
/// </summary>
public sealed class TrainingInterruptedException(string message) : Exception(message);
