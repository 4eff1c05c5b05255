namespace LeNet.Mnist;

/// <summary>
/// Missing, corrupt or unobtainable MNIST data: the message names the file or directory,
/// says what is wrong, and ends with what to do about it.
/// </summary>
public sealed class MnistDataException : Exception
{
    public MnistDataException(string message) : base(message)
    {
        Problem = message;
    }

    public MnistDataException(string message, Exception innerException) : base(message, innerException)
    {
        Problem = message;
    }

    /// <summary>A message made of what is wrong and, after a semicolon, what to do about it.</summary>
    public MnistDataException(string problem, string remedy, Exception? innerException = null)
        : base($"{problem}; {remedy}", innerException)
    {
        Problem = problem;
    }

    /// <summary>
    /// What is wrong, without the advice: for composing a larger message, such as one listing several failed sources.
    /// </summary>
    public string Problem { get; }
}
