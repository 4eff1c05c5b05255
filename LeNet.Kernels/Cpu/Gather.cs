// Copies chosen rows of a matrix (a batch's images from a dataset) in parts across the workers: the rows lie anywhere
// in a large array, so the copy waits on memory, and two cores wait on twice as many cache lines at a time.
namespace LeNet.Kernels.Cpu;

/// <summary>Gathers rows of a row-major matrix into consecutive rows.</summary>
public static unsafe class Gather
{
    /// <summary>Rows per part: a part copies a few tens of KB, enough to be worth a hand-off.</summary>
    private const int RowsPerPart = 8;

    private struct Pass
    {
        public float* Source, Target;
        public int* Rows;
        public int Count, RowLength;
    }

    /// <summary>target[k, :] = source[rows[k], :] for every k, rows of <paramref name="rowLength"/> values.</summary>
    public static void Rows(ReadOnlySpan<float> source, ReadOnlySpan<int> rows, Span<float> target, int rowLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowLength);
        if ((long)rows.Length * rowLength != target.Length)
            throw new ArgumentException(
                $"target has length {target.Length}, but {rows.Length} rows of {rowLength} need " +
                    $"{(long)rows.Length * rowLength}.",
                nameof(target));
        long sourceRows = source.Length / rowLength;
        foreach (var row in rows)
            if ((ulong)row >= (ulong)sourceRows)
                throw new ArgumentOutOfRangeException(nameof(rows), row, $"A row index must lie in [0, {sourceRows}).");
        if (rows.IsEmpty) return;
        fixed (float* from = source, to = target)
        fixed (int* at = rows)
        {
            var pass = new Pass { Source = from, Target = to, Rows = at, Count = rows.Length, RowLength = rowLength };
            Workers.Run((rows.Length + RowsPerPart - 1) / RowsPerPart, &pass, &Part);
        }
    }

    private static void Part(void* state, int part)
    {
        var pass = (Pass*)state;
        int length = pass->RowLength;
        for (int k = part * RowsPerPart, end = Math.Min(pass->Count, k + RowsPerPart); k < end; k++)
            new ReadOnlySpan<float>(pass->Source + (nint)pass->Rows[k] * length, length)
                .CopyTo(new Span<float>(pass->Target + (nint)k * length, length));
    }
}
