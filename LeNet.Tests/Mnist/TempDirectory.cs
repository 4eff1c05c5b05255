namespace LeNet.Tests.Mnist;

/// <summary>A fresh directory under the system temp folder, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lenet-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Names of the files directly in the directory, sorted.</summary>
    public string[] FileNames() =>
        Directory.Exists(Path) ? Directory.GetFiles(Path).Select(path => System.IO.Path.GetFileName(path))
            .Order(StringComparer.Ordinal).ToArray() : [];

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }
}
