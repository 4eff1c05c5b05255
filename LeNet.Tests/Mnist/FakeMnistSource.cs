using LeNet.Mnist;

namespace LeNet.Tests.Mnist;

/// <summary>A source serving whatever bytes a test decides, optionally failing after some files.</summary>
public sealed class FakeMnistSource(Func<MnistPart, byte[]> content, int failAfter = int.MaxValue) : IMnistSource
{
    public string Description => "fake source";

    public List<MnistPart> Requested { get; } = [];

    public Task FetchAsync(IReadOnlyList<MnistPart> parts, Func<MnistPart, Stream> openDestination, Action<string> log,
        CancellationToken cancellationToken)
    {
        foreach (MnistPart part in parts)
        {
            Requested.Add(part);
            byte[] bytes = content(part);
            Stream destination = openDestination(part);
            if (Requested.Count > failAfter)
            {
                destination.Write(bytes, 0, bytes.Length / 2);
                throw new IOException("connection reset halfway");
            }
            destination.Write(bytes);
        }
        return Task.CompletedTask;
    }

    /// <summary>The real file from the test data, gzip-compressed as the mirrors serve it (the test data may hold it
    /// raw, as npm's package does on a machine without ../shared).</summary>
    public static byte[] RealFile(MnistPart part)
    {
        var bytes = File.ReadAllBytes(MnistFiles.Find(MnistTestData.Directory, part)
            ?? throw new FileNotFoundException(part.ToString()));
        return bytes is [0x1f, 0x8b, ..] ? bytes : IdxBytes.Gzip(bytes);
    }
}
