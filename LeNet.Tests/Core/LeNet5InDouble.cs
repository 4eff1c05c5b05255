using LeNet.Core.Models;
using LeNet.Kernels;
using K = LeNet.Kernels.Reference;

namespace LeNet.Tests.Core;

/// <summary>
/// LeNet-5 of the seed (training mode) written out as a chain of Reference kernels in double, forward and backward
/// by hand in the manner of llm.c: the independent oracle for the whole model's gradient and for Core's autograd.
/// Parameters are named as in the model's state dict.
/// </summary>
internal sealed class LeNet5InDouble
{
    private static readonly string[] TrainableNames =
    [
        "layer1.0.weight", "layer1.0.bias", "layer1.1.weight", "layer1.1.bias",
        "layer2.0.weight", "layer2.0.bias", "layer2.1.weight", "layer2.1.bias",
        "fc.weight", "fc.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
    ];

    private readonly int _batch;
    private readonly ConvShape _conv1, _conv2;
    private readonly BatchNormShape _bn1, _bn2;
    private readonly PoolShape _pool1, _pool2;
    private readonly LinearShape _fc, _fc1, _fc2;

    public LeNet5InDouble(LeNet5 model, int batch)
    {
        _batch = batch;
        Parameters = model.NamedParameters()
            .ToDictionary(p => p.Name, p => p.Tensor.ToArray().Select(v => (double)v).ToArray());
        _conv1 = new ConvShape(batch, 1, 32, 32, 6, 5, 5);
        _bn1 = new BatchNormShape(batch, 6, 28 * 28);
        _pool1 = new PoolShape(batch, 6, 28, 28, 2, 2);
        _conv2 = new ConvShape(batch, 6, 14, 14, 16, 5, 5);
        _bn2 = new BatchNormShape(batch, 16, 10 * 10);
        _pool2 = new PoolShape(batch, 16, 10, 10, 2, 2);
        _fc = new LinearShape(batch, 400, 120);
        _fc1 = new LinearShape(batch, 120, 84);
        _fc2 = new LinearShape(batch, 84, 10);
    }

    public static IReadOnlyList<string> Trainable => TrainableNames;

    public Dictionary<string, double[]> Parameters { get; }

    /// <summary>
    /// Mean cross-entropy of the batch, with batch statistics in BatchNorm (running statistics are scratch).
    /// </summary>
    public double Loss(double[] input, int[] labels) => Run(input, labels, backward: false).Loss;

    /// <summary>The loss and ∂loss/∂ of every trainable parameter and of the input.</summary>
    public (double Loss, Dictionary<string, double[]> Gradients, double[] InputGrad) LossAndGradients(double[] input,
        int[] labels) =>
        Run(input, labels, backward: true);

    private (double Loss, Dictionary<string, double[]> Gradients, double[] InputGrad) Run(double[] input, int[] labels,
        bool backward)
    {
        var p = Parameters;
        var conv1 = new double[_conv1.OutputLength];
        K.Conv2d.Forward<double>(input, p["layer1.0.weight"], p["layer1.0.bias"], conv1, _conv1);
        var (bn1, mean1, invStd1) = BatchNorm(conv1, p["layer1.1.weight"], p["layer1.1.bias"], _bn1);
        var relu1 = Relu(bn1);
        var pool1 = new double[_pool1.OutputLength];
        var argmax1 = new int[_pool1.OutputLength];
        K.MaxPool2d.Forward<double>(relu1, pool1, argmax1, _pool1);

        var conv2 = new double[_conv2.OutputLength];
        K.Conv2d.Forward<double>(pool1, p["layer2.0.weight"], p["layer2.0.bias"], conv2, _conv2);
        var (bn2, mean2, invStd2) = BatchNorm(conv2, p["layer2.1.weight"], p["layer2.1.bias"], _bn2);
        var relu2 = Relu(bn2);
        var pool2 = new double[_pool2.OutputLength];
        var argmax2 = new int[_pool2.OutputLength];
        K.MaxPool2d.Forward<double>(relu2, pool2, argmax2, _pool2);

        var fc = Linear(pool2, "fc", _fc);
        var relu3 = Relu(fc);
        var fc1 = Linear(relu3, "fc1", _fc1);
        var relu4 = Relu(fc1);
        var logits = Linear(relu4, "fc2", _fc2);
        var probabilities = new double[logits.Length];
        var loss = K.SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, _batch, 10);
        if (!backward) return (loss, [], []);

        var g = TrainableNames.ToDictionary(n => n, n => new double[p[n].Length]);
        var dLogits = new double[logits.Length];
        K.SoftmaxCrossEntropy.Backward<double>(probabilities, labels, 1.0, dLogits, _batch, 10);
        var dReLU4 = LinearBackward(relu4, dLogits, "fc2", _fc2, g);
        var dFc1 = new double[fc1.Length];
        K.ReLU.Backward<double>(fc1, dReLU4, dFc1);
        var dReLU3 = LinearBackward(relu3, dFc1, "fc1", _fc1, g);
        var dFc = new double[fc.Length];
        K.ReLU.Backward<double>(fc, dReLU3, dFc);
        var dPool2 = LinearBackward(pool2, dFc, "fc", _fc, g);

        var dReLU2 = new double[relu2.Length];
        K.MaxPool2d.Backward<double>(dPool2, argmax2, dReLU2, _pool2);
        var dBn2 = new double[bn2.Length];
        K.ReLU.Backward<double>(bn2, dReLU2, dBn2);
        var dConv2 = new double[conv2.Length];
        K.BatchNorm2d.Backward<double>(dBn2, conv2, p["layer2.1.weight"], mean2, invStd2, dConv2, g["layer2.1.weight"],
            g["layer2.1.bias"], _bn2);
        var dPool1 = new double[pool1.Length];
        K.Conv2d.BackwardInput<double>(dConv2, p["layer2.0.weight"], dPool1, _conv2);
        K.Conv2d.BackwardWeight<double>(pool1, dConv2, g["layer2.0.weight"], _conv2);
        K.Conv2d.BackwardBias<double>(dConv2, g["layer2.0.bias"], _conv2);

        var dReLU1 = new double[relu1.Length];
        K.MaxPool2d.Backward<double>(dPool1, argmax1, dReLU1, _pool1);
        var dBn1 = new double[bn1.Length];
        K.ReLU.Backward<double>(bn1, dReLU1, dBn1);
        var dConv1 = new double[conv1.Length];
        K.BatchNorm2d.Backward<double>(dBn1, conv1, p["layer1.1.weight"], mean1, invStd1, dConv1, g["layer1.1.weight"],
            g["layer1.1.bias"], _bn1);
        var dInput = new double[input.Length];
        K.Conv2d.BackwardInput<double>(dConv1, p["layer1.0.weight"], dInput, _conv1);
        K.Conv2d.BackwardWeight<double>(input, dConv1, g["layer1.0.weight"], _conv1);
        K.Conv2d.BackwardBias<double>(dConv1, g["layer1.0.bias"], _conv1);
        return (loss, g, dInput);
    }

    private static (double[] Output, double[] Mean, double[] InvStd) BatchNorm(double[] input, double[] gamma,
        double[] beta, BatchNormShape shape)
    {
        var output = new double[input.Length];
        var mean = new double[shape.Channels];
        var invStd = new double[shape.Channels];
        var runningMean = new double[shape.Channels];
        var runningVar = Enumerable.Repeat(1.0, shape.Channels).ToArray();
        K.BatchNorm2d.ForwardTraining<double>(input, gamma, beta, output, mean, invStd, runningMean, runningVar, 0.1,
            1e-5, shape);
        return (output, mean, invStd);
    }

    private static double[] Relu(double[] input)
    {
        var output = new double[input.Length];
        K.ReLU.Forward<double>(input, output);
        return output;
    }

    private double[] Linear(double[] input, string name, LinearShape shape)
    {
        var output = new double[shape.OutputLength];
        K.Linear.Forward<double>(input, Parameters[name + ".weight"], Parameters[name + ".bias"], output, shape);
        return output;
    }

    private double[] LinearBackward(double[] input, double[] outputGrad, string name, LinearShape shape,
        Dictionary<string, double[]> g)
    {
        var inputGrad = new double[shape.InputLength];
        K.Linear.BackwardInput<double>(outputGrad, Parameters[name + ".weight"], inputGrad, shape);
        K.Linear.BackwardWeight<double>(input, outputGrad, g[name + ".weight"], shape);
        K.Linear.BackwardBias<double>(outputGrad, g[name + ".bias"], shape);
        return inputGrad;
    }
}
