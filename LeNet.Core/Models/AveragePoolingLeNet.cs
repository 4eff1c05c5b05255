using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// The LeNet-5 topology without BatchNorm: Conv 1→6 5×5, activation, AvgPool 2, Conv 6→16 5×5, activation, AvgPool 2,
/// Conv 16→120 5×5 (a 1×1 map), activation, then fully connected 120 → 84 → classes with the activation between, on
/// 1×32×32 inputs; 61,706 trainable parameters for 10 classes. The variants differ only in the activation.
/// </summary>
public abstract class AveragePoolingLeNet : Module
{
    protected AveragePoolingLeNet(int classes, int seed, Func<Module> activation)
    {
        var random = new Random(seed);
        Features = RegisterModule("features", new Sequential(
            new Conv2d(1, 6, 5, random), activation(), new AvgPool2d(2),
            new Conv2d(6, 16, 5, random), activation(), new AvgPool2d(2),
            new Conv2d(16, 120, 5, random), activation(), new Flatten()));
        Classifier = RegisterModule("classifier", new Sequential(
            new Linear(120, 84, random), activation(), new Linear(84, classes, random)));
    }

    /// <summary>[N, 1, 32, 32] → [N, 120].</summary>
    public Sequential Features { get; }
    /// <summary>[N, 120] → logits [N, classes].</summary>
    public Sequential Classifier { get; }

    public override Tensor Forward(Tensor input) => Classifier.Forward(Features.Forward(input));
}
