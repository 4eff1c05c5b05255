using LeNet.Core.Functional;
using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 exactly as the reference article's code, written as the operations that run: two convolution blocks, fc +
/// ReLU (400 → 120), then the classifier head fc1 + ReLU + fc2 (120 → 84 → classes), with the loss one operation in
/// training. Member names match the article's PyTorch module, so state dicts line up.
/// </summary>
public sealed class LeNet5 : Module
{
    public LeNet5(int classes = 10, int seed = 0)
    {
        var random = new Random(seed);
        Layer1 = RegisterModule("layer1", new ConvBlock(1, 6, 5, pool: 2, random));
        Layer2 = RegisterModule("layer2", new ConvBlock(6, 16, 5, pool: 2, random));
        Fc = RegisterModule("fc", new Linear(400, 120, random));
        // The ReLUs are registered as the article's module has them (the ONNX export walks the layers in order); the
        // operations below apply them with the layer before.
        RegisterModule("relu", new ReLU());
        Fc1 = RegisterModule("fc1", new Linear(120, 84, random));
        RegisterModule("relu1", new ReLU());
        Fc2 = RegisterModule("fc2", new Linear(84, classes, random));
    }

    public const string ModelName = "lenet5";
    public ConvBlock Layer1 { get; }
    public ConvBlock Layer2 { get; }
    public Linear Fc { get; }
    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    /// <summary>input [N, 1, 32, 32] → logits [N, classes].</summary>
    public override Tensor Forward(Tensor input) => Fc2.Forward(F.LinearReLU(Features(input), Fc1.Weight, Fc1.Bias));

    public override Tensor CrossEntropyLoss(Tensor input, Indices labels) =>
        F.HeadLoss(Features(input), Fc1.Weight, Fc1.Bias!, Fc2.Weight, Fc2.Bias!, labels);

    // layer1 → layer2 → flatten → fc + relu: what the classifier head reads, [N, 120].
    private Tensor Features(Tensor input)
    {
        var maps = Layer2.Forward(Layer1.Forward(input));
        return F.LinearReLU(maps.Reshape(maps.Size(0), -1), Fc.Weight, Fc.Bias);
    }
}
