namespace LeNet.Train;

/// <summary>
/// The name a mistyped option or command was probably meant to be, as <c>git</c> and <c>dotnet</c> suggest: the nearest
/// by edit distance (a swap of two neighbours counts as one edit), only when it is close, and only when one is nearest.
/// </summary>
public static class NearestName
{
    public static string? To(string typed, IEnumerable<string> names)
    {
        names = names.Distinct().ToArray();
        // A unique beginning of a name (--batch for --batch-size) is as clear as a near miss.
        var stem = typed.TrimStart('-');
        if (stem.Length >= 3 && names.Where(n => n.StartsWith(typed, StringComparison.OrdinalIgnoreCase)).ToArray()
            is [var only])
            return only;
        var best = names.Select(name => (Name: name, Distance: Distance(typed, name)))
            .Where(c => c.Distance <= Tolerance(c.Name)).OrderBy(c => c.Distance).Take(2).ToArray();
        return best.Length == 1 || best.Length == 2 && best[0].Distance < best[1].Distance ? best[0].Name : null;
    }

    // One edit for a short name, up to a third of a longer one: --lr never becomes --seed, --bach-size finds its way.
    private static int Tolerance(string name) => Math.Max(1, name.TrimStart('-').Length / 3);

    /// <summary>Levenshtein distance with adjacent transpositions (optimal string alignment), ignoring case.</summary>
    public static int Distance(string a, string b)
    {
        (a, b) = (a.ToLowerInvariant(), b.ToLowerInvariant());
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
