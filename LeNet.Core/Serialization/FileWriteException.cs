namespace LeNet.Core.Serialization;

/// <summary>
/// A file could not be written (disk full, permission denied, the target cannot be replaced); the message names it and
/// says that the file that was there, if any, is unchanged, as <see cref="AtomicFile"/> guarantees.
/// </summary>
public sealed class FileWriteException(string message, Exception? inner = null) : IOException(message, inner);
