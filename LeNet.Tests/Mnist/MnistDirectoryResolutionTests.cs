using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>Changes a process-wide environment variable, so it runs alone.</summary>
[Collection(nameof(EnvironmentVariableCollection))]
public sealed class MnistDirectoryResolutionTests
{
    [Fact]
    public void ExplicitThenEnvironmentThenDefault()
    {
        string? saved = Environment.GetEnvironmentVariable(MnistAcquirer.EnvironmentVariable);
        try
        {
            string fromEnvironment = Path.Combine(Path.GetTempPath(), "lenet-env-data");
            Environment.SetEnvironmentVariable(MnistAcquirer.EnvironmentVariable, fromEnvironment);
            Assert.Equal(Path.GetFullPath("explicit"), MnistAcquirer.ResolveDirectory("explicit"));
            Assert.Equal(fromEnvironment, MnistAcquirer.ResolveDirectory(null));

            Environment.SetEnvironmentVariable(MnistAcquirer.EnvironmentVariable, null);
            Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "data", "mnist"),
                MnistAcquirer.ResolveDirectory(null));
            Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "data", "mnist"),
                MnistAcquirer.ResolveDirectory(""));
        }
        finally
        {
            Environment.SetEnvironmentVariable(MnistAcquirer.EnvironmentVariable, saved);
        }
    }
}
