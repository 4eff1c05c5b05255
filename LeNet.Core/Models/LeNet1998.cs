using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 in the spirit of LeCun et al. (1998): the same topology as <see cref="LeNet5Table"/> with tanh instead of
/// ReLU, average pooling, no BatchNorm. The paper's scaled tanh, trainable subsampling coefficients, sparse C3
/// connection table and RBF output layer are left out, as in most modern re-creations; 61,706 trainable parameters
/// for 10 classes.
/// </summary>
public sealed class LeNet1998 : Module
{
    public const string ModelName = "lenet1998";

    public LeNet1998(int classes = 10, int seed = 0)
    {
        var random = new Random(seed);
        Features = RegisterModule("features", new Sequential(
            new Conv2d(1, 6, 5, random), new Tanh(), new AvgPool2d(2),
            new Conv2d(6, 16, 5, random), new Tanh(), new AvgPool2d(2),
            new Conv2d(16, 120, 5, random), new Tanh(), new Flatten()));
        Classifier = RegisterModule("classifier", new Sequential(
            new Linear(120, 84, random), new Tanh(), new Linear(84, classes, random)));
    }

    /// <summary>The convolutions: [N, 1, 32, 32] → [N, 120].</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected layers: [N, 120] → logits [N, classes].</summary>
    public Sequential Classifier { get; }

    public override Tensor Forward(Tensor input) => Classifier.Forward(Features.Forward(input));
}
