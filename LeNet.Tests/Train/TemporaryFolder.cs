namespace LeNet.Tests.Train;

/// <summary>A fresh folder under the system's temporary folder, removed with everything in it on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("lenet-tests-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
