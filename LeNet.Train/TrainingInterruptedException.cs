namespace LeNet.Train;

/// <summary>Stopped as asked (Ctrl-C, SIGTERM) after saving its last step; the message says how to resume.</summary>
public sealed class TrainingInterruptedException(string message) : Exception(message);
