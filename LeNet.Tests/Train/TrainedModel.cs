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

    private static readonly Lazy<string> Folder = new(() => Train("lenet-tests-trained-", new TrainOptions
    {
        Limit = 2000, TestLimit = TestImages, Epochs = 2, LogEvery = 1000,
    }), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The run's --output folder: model.safetensors, checkpoint, metrics.json, pictures.</summary>
    public static string Directory => Folder.Value;

    public static string ModelFile => Path.Combine(Directory, "model.safetensors");

    /// <summary>Trains on the test MNIST with <paramref name="options"/> into a new folder (named from
    /// <paramref name="prefix"/>) removed at exit; returns the folder.</summary>
    internal static string Train(string prefix, TrainOptions options)
    {
        var folder = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(folder, recursive: true); } catch (IOException) { }
        };
        var error = new StringWriter();
        options = options with { DataDirectory = MnistTestData.Directory, OutputDirectory = folder };
        if (TrainCommand.Run(options, TextWriter.Null, error) != 0)
            throw new InvalidOperationException("The shared training run failed: " + error);
        return folder;
    }
}

/// <summary>
/// The fast recipe (batch 128, 2 epochs, onecycle to lr 0.01) on all 60,000 MNIST training images, made on first use
/// for the tests that need a model as good as a user's (about 99 % test accuracy; some 15 s in a Debug build on two
/// cores): the rendered digits of <see cref="RenderedDigitTests"/>.
/// </summary>
public static class FastTrainedModel
{
    private static readonly Lazy<string> Folder = new(() => TrainedModel.Train("lenet-tests-fast-",
        TrainCommand.FastRecipe(new TrainOptions { TestLimit = 1000, LogEvery = 1000, Pictures = false })),
        LazyThreadSafetyMode.ExecutionAndPublication);

    public static string ModelFile => Path.Combine(Folder.Value, "model.safetensors");
}
