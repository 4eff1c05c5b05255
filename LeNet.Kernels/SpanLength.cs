namespace LeNet.Kernels;

/// <summary>Entry checks shared by the kernels: a span's length against what its shape needs.</summary>
internal static class SpanLength
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the span, its length and the length the shape needs.</summary>
    public static void Require(int actual, int expected, string name, object shape)
    {
        if (actual != expected)
            throw new ArgumentException($"{name} has length {actual}, but {shape} needs {expected}.", name);
    }

    /// <summary>Like <see cref="Require"/>, but an empty span (meaning "none", e.g. no bias) is also accepted.</summary>
    public static void RequireOrEmpty(int actual, int expected, string name, object shape)
    {
        if (actual != 0 && actual != expected)
            throw new ArgumentException($"{name} has length {actual}, but {shape} needs {expected} (or 0 for none).", name);
    }

    /// <summary>Throws unless two spans that are read and written elementwise have the same length.</summary>
    public static void RequireSame(int actual, int expected, string name, string otherName)
    {
        if (actual != expected)
            throw new ArgumentException($"{name} has length {actual}, but {otherName} has length {expected}; they must match.", name);
    }
}
