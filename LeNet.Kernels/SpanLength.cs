namespace LeNet.Kernels;

/// <summary>
/// Entry checks shared by the kernels: a span's length against what its shape needs. Generic over the shape so that
/// the check itself never boxes it (kernels allocate nothing); only the error path formats it.
/// </summary>
internal static class SpanLength
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the span, its length and the length the shape
    /// needs.</summary>
    public static void Require<TShape>(int actual, int expected, string name, in TShape shape) where TShape : struct
    {
        if (actual != expected)
            throw new ArgumentException($"{name} has length {actual}, but {shape} needs {expected}.", name);
    }

    /// <summary>Like <see cref="Require{TShape}"/>, but an empty span (meaning "none", e.g. no bias) is also
    /// accepted.</summary>
    public static void RequireOrEmpty<TShape>(int actual, int expected, string name, in TShape shape)
        where TShape : struct
    {
        if (actual != 0 && actual != expected)
            throw new ArgumentException($"{name} has length {actual}, but {shape} needs {expected} (or 0 for none).",
                name);
    }

    /// <summary>Throws unless two spans that are read and written elementwise have the same length.</summary>
    public static void RequireSame(int actual, int expected, string name, string otherName)
    {
        if (actual != expected)
            throw new ArgumentException(
                $"{name} has length {actual}, but {otherName} has length {expected}; they must match.", name);
    }
}
