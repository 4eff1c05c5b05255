using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 as the reference article's architecture table draws it: Conv 1→6 5×5, ReLU, AvgPool 2, Conv 6→16 5×5,
/// ReLU, AvgPool 2, Conv 16→120 5×5 (a 1×1 map), ReLU, then fully connected 120 → 84 → classes with ReLU between;
/// no BatchNorm. On 1×32×32 inputs; 61,706 trainable parameters for 10 classes.
/// </summary>
public sealed class LeNet5Table : Module
{
    public const string ModelName = "lenet5-table";

    public LeNet5Table(int classes = 10, int seed = 0)
    {
        var random = new Random(seed);
        Features = RegisterModule("features", new Sequential(
            new Conv2d(1, 6, 5, random), new ReLU(), new AvgPool2d(2),
            new Conv2d(6, 16, 5, random), new ReLU(), new AvgPool2d(2),
            new Conv2d(16, 120, 5, random), new ReLU(), new Flatten()));
        Classifier = RegisterModule("classifier", new Sequential(
            new Linear(120, 84, random), new ReLU(), new Linear(84, classes, random)));
    }

    /// <summary>The convolutions: [N, 1, 32, 32] → [N, 120].</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected layers: [N, 120] → logits [N, classes].</summary>
    public Sequential Classifier { get; }

    public override Tensor Forward(Tensor input) => Classifier.Forward(Features.Forward(input));
}
