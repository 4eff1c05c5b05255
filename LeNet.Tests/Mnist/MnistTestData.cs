using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>
/// Where the real MNIST files are for tests, first found of: <c>$LENET_TEST_MNIST</c>; a <c>shared/mnist</c> folder
/// above the current directory or the test binaries (CI's, never downloaded to); <c>$LENET_DATA</c>;
/// <c>data/mnist</c> at the repository root (where the README's first command puts it). Where none holds the four
/// files, the library's own chain acquires them into <c>data/mnist</c> at the repository root, once per test run.
/// </summary>
public static class MnistTestData
{
    public const string EnvironmentVariable = "LENET_TEST_MNIST";

    // Lazy caches a failure too: every test that needs MNIST then fails with the same sentence, without a new try.
    private static readonly Lazy<string> Found = new(() => Locate(
        [System.IO.Directory.GetCurrentDirectory(), AppContext.BaseDirectory], Environment.GetEnvironmentVariable,
        target => new MnistAcquirer(Console.Error.WriteLine).Acquire(target)));

    public static string Directory => Found.Value;

    /// <summary>The search above, from <paramref name="starts"/>, reading variables through <paramref name="variable"/>
    /// and acquiring through <paramref name="acquire"/> (which returns the folder it filled).</summary>
    internal static string Locate(IReadOnlyList<string> starts, Func<string, string?> variable,
        Func<string, string> acquire)
    {
        if (variable(EnvironmentVariable) is { Length: > 0 } named)
            return Complete(named) ? Path.GetFullPath(named) : throw new InvalidOperationException(
                $"{EnvironmentVariable} names {named}, which does not hold the four MNIST files.");
        if (Above(starts, Path.Combine("shared", "mnist"), Complete) is { } shared) return shared;
        if (variable(MnistAcquirer.EnvironmentVariable) is { Length: > 0 } data && Complete(data))
            return Path.GetFullPath(data);
        var root = Above(starts, "", folder => File.Exists(Path.Combine(folder, "LeNet.sln")));
        if (root is null)
            throw new InvalidOperationException(
                $"No MNIST data for the tests: no shared/mnist or repository (LeNet.sln) above " +
                $"{string.Join(" or ", starts)}; set {EnvironmentVariable} to a folder holding the four MNIST files.");
        var cache = Path.Combine(root, MnistAcquirer.DefaultDirectory);
        if (Complete(cache)) return cache;
        try
        {
            // The README's default folder: its parent is made as the trainer makes it for a run without --data.
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
            return acquire(cache);
        }
        catch (MnistDataException ex)
        {
            throw new InvalidOperationException(
                $"No MNIST data for the tests: none in ${EnvironmentVariable}, shared/mnist, " +
                $"${MnistAcquirer.EnvironmentVariable} or {cache}, and acquiring it failed: {ex.Message}", ex);
        }
    }

    private static bool Complete(string folder) =>
        System.IO.Directory.Exists(folder) &&
            MnistFiles.AllParts.All(part => MnistFiles.Find(folder, part) is not null);

    private static string? Above(IEnumerable<string> starts, string relative, Func<string, bool> holds)
    {
        foreach (var start in starts)
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, relative);
                if (holds(candidate)) return Path.GetFullPath(candidate);
            }
        return null;
    }
}
