namespace LeNet.Train.Images;

/// <summary>
/// The paper's shading: a polynomial surface in x and y fitted by least squares to an averaged-down copy of the
/// picture, iteratively leaving out the pixels that stand out from it (the ink, dark or light). A gradient, a lamp's
/// falling light or a soft shadow is part of it; the ink is not.
/// </summary>
internal static class PaperShading
{
    // A cubic, fitted to a copy at most FitSide pixels a side.
    private const int Degree = 3, Terms = (Degree + 1) * (Degree + 2) / 2, FitSide = 64;
    private const int Iterations = 10;
    private const double OutlierSigmas = 2.5, MinimumSpread = 2;

    /// <summary>The shading at each pixel of <paramref name="values"/> (width × height, row-major).</summary>
    public static float[] Of(float[] values, int width, int height)
    {
        var coefficients = Fitted(values, width, height);
        var columns = new double[width];
        for (var x = 0; x < width; x++) columns[x] = Scaled(x + 0.5, width);
        var row = new double[Degree + 1];
        // The terms at u = 1: the powers of v alone.
        Span<double> vTerms = stackalloc double[Terms];
        var shading = new float[values.Length];
        for (var y = 0; y < height; y++)
        {
            // This row's polynomial in u alone: row[p] multiplies u^p.
            Array.Clear(row);
            Powers(1, Scaled(y + 0.5, height), vTerms);
            var term = 0;
            for (var degree = 0; degree <= Degree; degree++)
                for (var vPower = 0; vPower <= degree; vPower++, term++)
                    row[degree - vPower] += coefficients[term] * vTerms[term];
            for (var x = 0; x < width; x++)
            {
                var shade = row[Degree];
                for (var p = Degree - 1; p >= 0; p--) shade = shade * columns[x] + row[p];
                shading[y * width + x] = (float)shade;
            }
        }
        return shading;
    }

    /// <summary>The surface's coefficients, term by term (see <see cref="Powers"/>).</summary>
    private static double[] Fitted(float[] values, int width, int height)
    {
        var factor = (Math.Max(width, height) + FitSide - 1) / FitSide;
        var (small, smallWidth, smallHeight) = MnistStyle.BlockMean(values, width, height, factor);
        // Each block's terms at its centre, on the same −1..1 scale as the full picture's pixels.
        var terms = new double[small.Length * Terms];
        for (var by = 0; by < smallHeight; by++)
            for (var bx = 0; bx < smallWidth; bx++)
                Powers(Scaled((bx * factor + Math.Min(width, (bx + 1) * factor)) / 2.0, width),
                    Scaled((by * factor + Math.Min(height, (by + 1) * factor)) / 2.0, height),
                    terms.AsSpan((by * smallWidth + bx) * Terms, Terms));

        // Starting from the border's median (the paper where the digit does not reach), the fit alternates with
        // leaving out what lies more than 2.5 standard deviations (robustly measured) from it.
        var coefficients = new double[Terms];
        coefficients[0] = BorderMedian(small, smallWidth, smallHeight);
        var included = new bool[small.Length];
        var residuals = new double[small.Length];
        for (var iteration = 0; iteration < Iterations; iteration++)
        {
            for (var i = 0; i < small.Length; i++)
            {
                double shade = 0;
                for (var t = 0; t < Terms; t++) shade += coefficients[t] * terms[i * Terms + t];
                residuals[i] = small[i] - shade;
            }
            var spread = Math.Max(MinimumSpread, 1.4826 * MedianMagnitude(residuals));
            var changed = false;
            for (var i = 0; i < small.Length; i++)
            {
                var inside = Math.Abs(residuals[i]) <= OutlierSigmas * spread;
                changed |= inside != included[i];
                included[i] = inside;
            }
            if (!changed || Fit(terms, small, included) is not { } fitted) break;
            coefficients = fitted;
        }
        return coefficients;
    }

    private static double Scaled(double position, int extent) => 2 * position / extent - 1;

    /// <summary>The polynomial's terms at (u, v), degree by degree: 1, u, v, u², uv, v², ...</summary>
    private static void Powers(double u, double v, Span<double> terms)
    {
        Span<double> us = stackalloc double[Degree + 1], vs = stackalloc double[Degree + 1];
        (us[0], vs[0]) = (1, 1);
        for (var p = 1; p <= Degree; p++) (us[p], vs[p]) = (us[p - 1] * u, vs[p - 1] * v);
        var term = 0;
        for (var degree = 0; degree <= Degree; degree++)
            for (var vPower = 0; vPower <= degree; vPower++) terms[term++] = us[degree - vPower] * vs[vPower];
    }

    /// <summary>Least squares over the included pixels (the normal equations, by Gauss–Jordan elimination with
    /// partial pivoting); null when too few pixels are left to fit.</summary>
    private static double[]? Fit(double[] terms, float[] values, bool[] included)
    {
        const int n = Terms;
        if (included.Count(i => i) < 3 * n) return null;
        const int stride = n + 1;
        var matrix = new double[n * stride];
        for (var i = 0; i < values.Length; i++)
        {
            if (!included[i]) continue;
            var at = i * n;
            for (var r = 0; r < n; r++)
            {
                var term = terms[at + r];
                for (var c = r; c < n; c++) matrix[r * stride + c] += term * terms[at + c];
                matrix[r * stride + n] += term * values[i];
            }
        }
        for (var r = 0; r < n; r++)
            for (var c = 0; c < r; c++) matrix[r * stride + c] = matrix[c * stride + r];
        for (var column = 0; column < n; column++)
        {
            var pivot = column;
            for (var r = column + 1; r < n; r++)
                if (Math.Abs(matrix[r * stride + column]) > Math.Abs(matrix[pivot * stride + column])) pivot = r;
            if (Math.Abs(matrix[pivot * stride + column]) < 1e-9) return null;
            for (var c = 0; c <= n; c++)
                (matrix[column * stride + c], matrix[pivot * stride + c]) =
                    (matrix[pivot * stride + c], matrix[column * stride + c]);
            for (var r = 0; r < n; r++)
            {
                if (r == column) continue;
                var factor = matrix[r * stride + column] / matrix[column * stride + column];
                for (var c = column; c <= n; c++) matrix[r * stride + c] -= factor * matrix[column * stride + c];
            }
        }
        var solution = new double[n];
        for (var r = 0; r < n; r++) solution[r] = matrix[r * stride + n] / matrix[r * stride + r];
        return solution;
    }

    /// <summary>The median of the outermost rows and columns: the paper's tone.</summary>
    private static double BorderMedian(float[] values, int width, int height)
    {
        var border = new List<float>();
        for (var x = 0; x < width; x++) { border.Add(values[x]); border.Add(values[(height - 1) * width + x]); }
        for (var y = 0; y < height; y++) { border.Add(values[y * width]); border.Add(values[y * width + width - 1]); }
        border.Sort();
        return border[border.Count / 2];
    }

    /// <summary>The median of the values' magnitudes, to a tenth of a grey level.</summary>
    private static double MedianMagnitude(double[] values)
    {
        Span<int> counts = stackalloc int[2561];
        foreach (var v in values) counts[(int)Math.Min(counts.Length - 1, Math.Abs(v) * 10)]++;
        var seen = 0;
        for (var i = 0; i < counts.Length; i++)
            if ((seen += counts[i]) > values.Length / 2) return (i + 0.5) / 10;
        return 256;
    }
}
