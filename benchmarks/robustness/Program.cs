// How well trained models classify distorted test digits: each test image rotated, shifted and scaled by a fixed
// amount (the same for every model), then classified. Measures what --augment buys (benchmarks/README.md).
using System.Globalization;
using LeNet.Core;
using LeNet.Mnist;
using LeNet.Train;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Robustness MNIST_DIR MODEL.safetensors [MODEL...]");
    return 2;
}
var test = MnistDataset.Load(args[0], train: false, verifyChecksums: false);
var background = -MnistPreprocessing.TrainMean / MnistPreprocessing.TrainStd;
(string Name, double Degrees, double Shift, double Zoom)[] cases =
[
    ("as is", 0, 0, 1), ("rotated 15°", 15, 0, 1), ("rotated -15°", -15, 0, 1), ("rotated 25°", 25, 0, 1),
    ("shifted 3 px", 0, 3, 1), ("scaled 0.8", 0, 0, 0.8), ("rotated 10°, shifted 2 px, scaled 1.1", 10, 2, 1.1),
];
Console.WriteLine("| model | " + string.Join(" | ", cases.Select(c => c.Name)) + " |");
Console.WriteLine("|---|" + string.Concat(cases.Select(_ => "---|")));
foreach (var path in args.Skip(1))
{
    var model = SavedModel.Load(path).Model;
    var cells = cases.Select(c =>
    {
        var images = new float[test.Images.Length];
        for (var i = 0; i < test.Count; i++)
            LeNet.Kernels.Reference.Augment.Transform(test.Images.AsSpan(i * test.ImageLength, test.ImageLength),
                images.AsSpan(i * test.ImageLength, test.ImageLength), test.ImageSize, background,
                (float)(c.Degrees * Math.PI / 180), (float)c.Zoom, (float)c.Shift, (float)c.Shift);
        var distorted = new MnistDataset(images, test.Labels, test.ImageSize);
        return Evaluation.Run(model, distorted, ClassNamesFile.Digits).Accuracy.ToString("F2",
            CultureInfo.InvariantCulture);
    });
    Console.WriteLine($"| {path} | {string.Join(" | ", cells)} % |");
}
return 0;
