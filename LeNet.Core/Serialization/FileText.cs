namespace LeNet.Core.Serialization;

/// <summary>Text read from a file (a name, a model variant) made fit to quote in a one-line message.</summary>
public static class FileText
{
    /// <summary>Control characters escaped (a line break becomes \u000a), cut to 64 characters.</summary>
    public static string Printable(string text)
    {
        var escaped = string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return escaped.Length <= 64 ? escaped : escaped[..64] + "…";
    }
}
