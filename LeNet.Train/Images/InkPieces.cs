namespace LeNet.Train.Images;

/// <summary>A rectangle of pixels, its last column and row included.</summary>
internal readonly record struct PixelBox(int Left, int Top, int Right, int Bottom)
{
    public int Width => Right - Left + 1;
    public int Height => Bottom - Top + 1;
    public int Extent => Math.Max(Width, Height);

    public PixelBox Union(PixelBox other) => new(Math.Min(Left, other.Left), Math.Min(Top, other.Top),
        Math.Max(Right, other.Right), Math.Max(Bottom, other.Bottom));

    /// <summary>The pixels between the two boxes along x or y, whichever is more (0 or less when they touch).</summary>
    public int Gap(PixelBox other) => Math.Max(Math.Max(Left - other.Right, other.Left - Right),
        Math.Max(Top - other.Bottom, other.Top - Bottom)) - 1;
}

/// <summary>A connected piece of ink (8-neighbours above the low threshold): its label, box and strong
/// pixels.</summary>
internal sealed record InkPiece(int Label, PixelBox Box, int Strong);

/// <summary>
/// The pieces of ink of a picture whose ink is light on a background of 0: every 8-connected set of pixels above the
/// low threshold, labelled in two passes over the rows (union–find), and which of them make the digit.
/// </summary>
internal static class InkPieces
{
    // A piece is part of the digit when it has at least this fraction of the largest piece's strong pixels and lies
    // within this fraction of the largest piece's size of the digit found so far (a 5's detached bar, a broken 4).
    private const double PieceFraction = 0.05, NearFraction = 0.3;

    /// <summary>Labels the connected pieces above <paramref name="weak"/> (label 0: none; pieces[0] stands for none)
    /// and counts each one's pixels above <paramref name="strong"/>.</summary>
    public static (int[] Labels, List<InkPiece> Pieces) Label(float[] values, int width, int height, double weak,
        double strong)
    {
        var labels = new int[values.Length];
        var parents = new List<int> { 0 };
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var at = y * width + x;
                if (values[at] <= weak) continue;
                // The neighbours already seen: the left one and the three above.
                var label = 0;
                if (x > 0) label = Join(parents, label, labels[at - 1]);
                if (y > 0)
                {
                    if (x > 0) label = Join(parents, label, labels[at - width - 1]);
                    label = Join(parents, label, labels[at - width]);
                    if (x < width - 1) label = Join(parents, label, labels[at - width + 1]);
                }
                if (label == 0) parents.Add(label = parents.Count);
                labels[at] = label;
            }

        // Each set of joined labels becomes one piece, numbered in the order of its first pixel.
        var pieceOf = new int[parents.Count];
        var count = 1;
        for (var label = 1; label < parents.Count; label++)
        {
            var root = Find(parents, label);
            pieceOf[label] = root == label ? count++ : pieceOf[root];
        }
        var (lefts, tops, rights, bottoms, strongs) =
            (new int[count], new int[count], new int[count], new int[count], new int[count]);
        Array.Fill(lefts, width);
        Array.Fill(tops, height);
        Array.Fill(rights, -1);
        Array.Fill(bottoms, -1);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var at = y * width + x;
                if (labels[at] == 0) continue;
                var piece = labels[at] = pieceOf[labels[at]];
                lefts[piece] = Math.Min(lefts[piece], x);
                tops[piece] = Math.Min(tops[piece], y);
                rights[piece] = Math.Max(rights[piece], x);
                bottoms[piece] = y;
                if (values[at] > strong) strongs[piece]++;
            }
        return (labels, [.. Enumerable.Range(0, count)
            .Select(i => new InkPiece(i, new PixelBox(lefts[i], tops[i], rights[i], bottoms[i]), strongs[i]))]);
    }

    /// <summary>The root of <paramref name="label"/>'s set, halving the path on the way.</summary>
    private static int Find(List<int> parents, int label)
    {
        while (parents[label] != label) label = parents[label] = parents[parents[label]];
        return label;
    }

    /// <summary>Joins the set of the root <paramref name="root"/> (0: none yet) with <paramref name="label"/>'s (0:
    /// none); returns the joined set's root, the smaller.</summary>
    private static int Join(List<int> parents, int root, int label)
    {
        if (label == 0) return root;
        label = Find(parents, label);
        if (root == 0 || root == label) return label;
        var (smaller, larger) = root < label ? (root, label) : (label, root);
        parents[larger] = smaller;
        return smaller;
    }

    /// <summary>Which labels make the digit, and its box: the piece with the most strong pixels, and each other piece
    /// of a reasonable size near it (pieces join one at a time, largest first, as long as one does); null when no
    /// piece has <paramref name="least"/> strong pixels (at least 1).</summary>
    public static (bool[] Kept, PixelBox Box)? Digit(List<InkPiece> pieces, int least)
    {
        var kept = new bool[pieces.Count];
        var main = pieces.MaxBy(p => p.Strong)!;
        if (main.Strong < Math.Max(1, least)) return null;
        kept[main.Label] = true;
        var box = main.Box;
        var reach = NearFraction * main.Box.Extent;
        var candidates = pieces.Where(p => p.Strong >= PieceFraction * main.Strong && p != main)
            .OrderByDescending(p => p.Strong).ToList();
        for (var joined = true; joined;)
        {
            joined = false;
            foreach (var p in candidates.Where(p => !kept[p.Label] && box.Gap(p.Box) <= reach))
            {
                kept[p.Label] = joined = true;
                box = box.Union(p.Box);
            }
        }
        return (kept, box);
    }
}
