namespace LeNet.Train.Images;

/// <summary>An image that cannot be used for prediction (unreadable, blank...); the message names the file.</summary>
public sealed class ImageException(string message, Exception? inner = null) : Exception(message, inner);
