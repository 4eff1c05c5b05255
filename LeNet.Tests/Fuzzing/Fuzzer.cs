namespace LeNet.Tests.Fuzzing;

/// <summary>
/// Feeds damaged files to a reader and checks the contract every reader of user files keeps: each case either reads
/// (the damage was harmless, e.g. a changed pixel) or ends in the project's own exception type whose message is one
/// line naming the file; never another exception, and never an allocation beyond a bound the file justifies.
/// </summary>
public static class Fuzzer
{
    /// <summary>What a run saw: how many cases were read, how many refused, and every broken promise.</summary>
    public sealed record Report(int Cases, int Read, int Refused, List<string> Failures)
    {
        /// <summary>Fails the test with the first broken promises, or returns when there were none.</summary>
        public void AssertClean()
        {
            Assert.True(Failures.Count == 0,
                $"{Failures.Count} of {Cases} cases broke the contract:\n" + string.Join("\n", Failures.Take(12)));
        }
    }

    /// <param name="name">The name the reader is given for the file; every message must contain it.</param>
    /// <param name="read">Reads the bytes as the program would (the result is discarded).</param>
    /// <param name="allocationLimit">
    /// The most bytes one case may allocate, given its bytes, counted over every thread of the process: the reader
    /// runs parallel loops. A test that runs the fuzzer must therefore run alone (<see cref="FuzzingCollection"/>).
    /// </param>
    public static Report Run<TException>(IEnumerable<Mutation> cases, string name, Action<byte[]> read,
        Func<byte[], long> allocationLimit)
        where TException : Exception =>
        Run(cases, name, read, allocationLimit, typeof(TException));

    /// <summary>As <see cref="Run{TException}"/> for a reader whose contract names two exception types.</summary>
    public static Report Run<TException1, TException2>(IEnumerable<Mutation> cases, string name, Action<byte[]> read,
        Func<byte[], long> allocationLimit)
        where TException1 : Exception where TException2 : Exception =>
        Run(cases, name, read, allocationLimit, typeof(TException1), typeof(TException2));

    private static Report Run(IEnumerable<Mutation> cases, string name, Action<byte[]> read,
        Func<byte[], long> allocationLimit, params Type[] ours)
    {
        int count = 0, accepted = 0, refused = 0;
        var failures = new List<string>();
        foreach (var mutation in cases)
        {
            count++;
            var limit = allocationLimit(mutation.Bytes);
            var before = GC.GetTotalAllocatedBytes(precise: true);
            try
            {
                read(mutation.Bytes);
                accepted++;
            }
            catch (Exception e) when (ours.Contains(e.GetType()))
            {
                refused++;
                if (string.IsNullOrWhiteSpace(e.Message) || !e.Message.Contains(name, StringComparison.Ordinal) ||
                    e.Message.Contains('\n'))
                    failures.Add($"{mutation.Description}: the message is not one line naming {name}: {e.Message}");
            }
            catch (Exception e)
            {
                failures.Add($"{mutation.Description}: {e.GetType().FullName}: {e.Message}");
            }
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (allocated > limit)
                failures.Add(
                    $"{mutation.Description}: allocated {allocated:N0} bytes, more than the {limit:N0} a " +
                        $"{mutation.Bytes.Length:N0}-byte file justifies");
        }
        return new Report(count, accepted, refused, failures);
    }

    /// <summary>
    /// The allocation bound of a reader that takes a model file or checkpoint whole: its tensors copied out, a model
    /// and optimiser to restore into (about 1 MB for LeNet-5), the decoded JSON, a few times over. Nothing may scale
    /// with what a damaged header claims.
    /// </summary>
    public static long WholeFileLimit(byte[] bytes) => 4L * bytes.Length + (2 << 20);

    /// <summary>The bytes that <paramref name="save"/> writes to the path it is given, a file named
    /// <paramref name="fileName"/> in a temporary folder.</summary>
    public static byte[] BytesWrittenBy(Action<string> save, string fileName)
    {
        var folder = Directory.CreateTempSubdirectory("lenet-fuzz-").FullName;
        try
        {
            var path = Path.Combine(folder, fileName);
            save(path);
            return File.ReadAllBytes(path);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
