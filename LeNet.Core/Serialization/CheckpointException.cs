namespace LeNet.Core.Serialization;

/// <summary>A checkpoint that cannot be used: not one, truncated, corrupt, or of another format version.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);
