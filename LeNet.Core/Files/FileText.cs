using System.Globalization;
using System.Text;

namespace LeNet.Core.Files;

/// <summary>
/// Text read from a file before it reaches a terminal: class names are checked where they are read, and anything
/// else printed from a file or a path goes through <see cref="Escape"/>, so no escape sequence, carriage return or
/// newline from a file can clear a screen, retitle a window or forge a line.
/// </summary>
public static class FileText
{
    public const int MaxClassNameLength = 64;

    /// <summary>Why <paramref name="name"/> cannot be a class name, or null when it can: it must be 1–64 characters
    /// of printable text (no control or formatting characters, no line breaks).</summary>
    public static string? ClassNameProblem(string name)
    {
        if (name.Length == 0) return "it is empty";
        if (name.Length > MaxClassNameLength)
            return $"it is {name.Length:N0} characters long, more than {MaxClassNameLength}";
        if (name.Trim().Length != name.Length) return "it begins or ends with white space";
        var bad = FirstUnprintable(name);
        return bad < 0 ? null : $"it holds the unprintable character U+{(int)name[bad]:X4}";
    }

    /// <summary><paramref name="text"/> with every unprintable character written as <c>\uXXXX</c>, so that printing it
    /// shows what is there and does nothing else.</summary>
    public static string Escape(string text)
    {
        if (FirstUnprintable(text) < 0) return text;
        var escaped = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            if (Unprintable(text, i)) escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)text[i]:x4}");
            else escaped.Append(text[i]);
        }
        return escaped.ToString();
    }

    /// <summary><see cref="Escape"/>d and cut to 64 characters: a name or value from a file quoted in a one-line
    /// message.</summary>
    public static string Printable(string text)
    {
        var escaped = Escape(text);
        return escaped.Length <= 64 ? escaped : escaped[..64] + "…";
    }

    private static int FirstUnprintable(string text)
    {
        for (var i = 0; i < text.Length; i++)
            if (Unprintable(text, i)) return i;
        return -1;
    }

    private static bool Unprintable(string text, int index)
    {
        var c = text[index];
        if (char.IsSurrogate(c))
            return !char.IsSurrogatePair(text, index) && !(index > 0 && char.IsSurrogatePair(text, index - 1));
        return CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.OtherNotAssigned;
    }
}
