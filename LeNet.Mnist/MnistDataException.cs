namespace LeNet.Mnist;

/// <summary>
/// Missing, corrupt or unobtainable MNIST data: the message names the file or directory,
/// says what is wrong, and ends with what to do about it.
/// </summary>
public sealed class MnistDataException : Exception
{
    public MnistDataException(string message) : base(message) { }

    public MnistDataException(string message, Exception innerException) : base(message, innerException) { }
}
