namespace LeNet.Core.Serialization;

/// <summary>A model file that cannot be read: truncated, corrupt, or not the expected format.</summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : Exception(message, inner);
