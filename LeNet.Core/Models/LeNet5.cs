using LeNet.Core.Functional;
using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 exactly as the reference article's code: two blocks of Conv 5×5 + BatchNorm + ReLU + MaxPool 2, then
/// fully connected 400 → 120 → 84 → classes with ReLU between, on 1×32×32 inputs. Member names match the
/// article's PyTorch module (layer1.0.weight, fc1.bias, ...), so state dicts line up. 61,750 trainable parameters.
/// </summary>
public sealed class LeNet5 : Module
{
    public LeNet5(int classes = 10, int seed = 0)
    {
        var random = new Random(seed);
        Layer1 = RegisterModule("layer1", new Sequential(
            new Conv2d(1, 6, 5, random), new BatchNorm2d(6), new ReLU(), new MaxPool2d(2)));
        Layer2 = RegisterModule("layer2", new Sequential(
            new Conv2d(6, 16, 5, random), new BatchNorm2d(16), new ReLU(), new MaxPool2d(2)));
        Fc = RegisterModule("fc", new Linear(400, 120, random));
        Relu = RegisterModule("relu", new ReLU());
        Fc1 = RegisterModule("fc1", new Linear(120, 84, random));
        Relu1 = RegisterModule("relu1", new ReLU());
        Fc2 = RegisterModule("fc2", new Linear(84, classes, random));
    }

    public const string ModelName = "lenet5";

    public Sequential Layer1 { get; }
    public Sequential Layer2 { get; }
    public Linear Fc { get; }
    public ReLU Relu { get; }
    public Linear Fc1 { get; }
    public ReLU Relu1 { get; }
    public Linear Fc2 { get; }

    /// <summary>input [N, 1, 32, 32] → logits [N, classes].</summary>
    public override Tensor Forward(Tensor input) => Fc2.Forward(Fc1.ForwardReLU(Hidden(input)));

    /// <summary>
    /// CrossEntropyLoss(Forward(input), labels), with fc1 → relu1 → fc2 and the loss as one operation
    /// (<see cref="F.LinearReLULinearCrossEntropy"/>: two launches for a training step on a GPU instead of seven).
    /// </summary>
    public override Tensor CrossEntropyLoss(Tensor input, Indices labels) =>
        F.LinearReLULinearCrossEntropy(Hidden(input), Fc1.Weight, Fc1.Bias, Fc2.Weight, Fc2.Bias, labels);

    /// <summary>layer1 → layer2 → flatten → fc → relu: the first hidden layer of the classifier, [N, 120].</summary>
    private Tensor Hidden(Tensor input)
    {
        var features = Layer2.Forward(Layer1.Forward(input));
        // Each Linear and its ReLU run as one operation where the backend fuses them.
        return Fc.ForwardReLU(features.Reshape(features.Size(0), -1));
    }
}
