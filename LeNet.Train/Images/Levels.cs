namespace LeNet.Train.Images;

/// <summary>
/// How many pixels of a picture whose background was removed lie at each level, from −256 to 256 in quarters of a
/// grey level, and what <see cref="MnistStyle"/> reads from that: the paper's grain, which way the ink stands out
/// (its sign: +1 for light ink, −1 for dark), and once the ink is made light, Otsu's threshold and the ink's level.
/// </summary>
internal sealed class Levels
{
    private const int PerLevel = 4, Zero = 256 * PerLevel;
    private readonly long[] _counts = new long[2 * Zero];
    private long _total;

    public void Add(float value)
    {
        _counts[Math.Clamp((int)((value + 256) * PerLevel), 0, 2 * Zero - 1)]++;
        _total++;
    }

    // The bin's level, seen with the ink's sign: the end of its quarter nearer the background, so that a pixel of the
    // bin is at least as far out.
    private static double Level(int bin, int sign) =>
        sign > 0 ? (double)(bin - Zero) / PerLevel : (double)(Zero - bin - 1) / PerLevel;

    /// <summary>The paper's grain as a standard deviation: 1.4826 × the median absolute level (the median is the
    /// paper's, where the ink covers less than half of the picture).</summary>
    public double Noise()
    {
        long seen = 0;
        for (var k = 1; k <= Zero; k++)
            if ((seen += _counts[Zero - k] + _counts[Zero + k - 1]) > _total / 2) return 1.4826 * k / PerLevel;
        return 1.4826 * 256;
    }

    /// <summary>+1 when the ink is lighter than the paper, −1 when darker: the side on which more stands out beyond
    /// <paramref name="margin"/>, pixels weighted by how far beyond.</summary>
    public int InkSign(double margin)
    {
        double above = 0, below = 0;
        for (var bin = 0; bin < _counts.Length; bin++)
        {
            var level = (bin + 0.5) / PerLevel - 256;
            if (level > margin) above += (level - margin) * _counts[bin];
            else if (level < -margin) below += (-level - margin) * _counts[bin];
        }
        return below > above ? -1 : 1;
    }

    /// <summary>How far the ink that stands out most lies from the background.</summary>
    public double Highest(int sign)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            var bin = sign > 0 ? _counts.Length - 1 - i : i;
            if (_counts[bin] > 0) return Level(bin, sign);
        }
        return 0;
    }

    /// <summary>Otsu's threshold of the levels (clamped to 0–255, light ink): the one that best splits the pixels into
    /// two classes, paper and ink.</summary>
    public double Otsu()
    {
        var counts = new double[256];
        for (var bin = 0; bin < _counts.Length; bin++)
            counts[Math.Clamp((int)Math.Round((bin + 0.5) / PerLevel - 256), 0, 255)] += _counts[bin];
        double sum = 0;
        for (var i = 0; i < 256; i++) sum += i * counts[i];
        double below = 0, belowSum = 0, best = -1;
        var threshold = 0;
        for (var t = 0; t < 255; t++)
        {
            below += counts[t];
            belowSum += t * counts[t];
            var above = _total - below;
            if (below == 0 || above == 0) continue;
            var difference = belowSum / below - (sum - belowSum) / above;
            var between = below * above * difference * difference;
            if (between > best) (best, threshold) = (between, t);
        }
        return threshold + 0.5;
    }

    /// <summary>The level of light ink: the 98th percentile of the pixels beyond <paramref name="strong"/>, so that a
    /// few specks of noise brighter than the ink do not set it; at least <paramref name="least"/>.</summary>
    public double Ink(double strong, double least)
    {
        long total = 0;
        for (var bin = 0; bin < _counts.Length; bin++)
            if (Level(bin, 1) >= strong) total += _counts[bin];
        long seen = 0;
        for (var bin = _counts.Length - 1; bin >= 0; bin--)
            if ((seen += _counts[bin]) > 0.02 * total) return Math.Max(least, Level(bin, 1));
        return least;
    }
}
