namespace LeNet.Train.Images;

/// <summary>
/// An image that cannot be used for prediction: unreadable, undecodable, empty or blank; the message names the file.
/// </summary>
public sealed class ImageException(string message, Exception? inner = null) : Exception(message, inner);
