using LeNet.Tests.Mnist;
using LeNet.Train;

namespace LeNet.Tests.Train;

/// <summary>
/// One small training run shared by the evaluate, predict and picture tests, made on first use: LeNet-5 on 2,000
/// real MNIST images for 2 epochs (about 90 % test accuracy), pictures drawn, into a folder removed at exit.
/// </summary>
public static class TrainedModel
{
    public const int TestImages = 500;

    private static readonly Lazy<string> Folder = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The run's --output folder: model.safetensors, checkpoint, metrics.json, pictures.</summary>
    public static string Directory => Folder.Value;

    public static string ModelFile => Path.Combine(Directory, "model.safetensors");

    private static string Train()
    {
        var folder = System.IO.Directory.CreateTempSubdirectory("lenet-tests-trained-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(folder, recursive: true); } catch (IOException) { }
        };
        var error = new StringWriter();
        var options = new TrainOptions
        {
            DataDirectory = MnistTestData.Directory, Limit = 2000, TestLimit = TestImages, Epochs = 2, OutputDirectory = folder, LogEvery = 1000,
        };
        if (TrainCommand.Run(options, TextWriter.Null, error) != 0)
            throw new InvalidOperationException("The shared training run failed: " + error);
        return folder;
    }
}
