namespace LeNet.Tests.Mnist;

/// <summary>
/// Where the real MNIST files are for tests: the LENET_TEST_MNIST environment variable, else the first
/// <c>shared/mnist</c> folder found walking up from the current directory or the test binaries.
/// </summary>
public static class MnistTestData
{
    public const string EnvironmentVariable = "LENET_TEST_MNIST";

    private static readonly Lazy<string?> Found = new(Find);

    /// <summary>The directory holding the four MNIST files; throws with directions when there is none.</summary>
    public static string Directory => Found.Value ?? throw new InvalidOperationException(
        $"No MNIST data for the tests: no shared/mnist folder above {System.IO.Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}; " +
        $"set {EnvironmentVariable} to a directory holding the four MNIST files.");

    private static string? Find()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
            return Path.GetFullPath(fromEnvironment);
        foreach (string start in new[] { System.IO.Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                string candidate = Path.Combine(directory.FullName, "shared", "mnist");
                if (System.IO.Directory.Exists(candidate))
                    return candidate;
            }
        }
        return null;
    }
}
