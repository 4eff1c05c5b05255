using LeNet.Kernels;
using LeNet.Kernels.Reference;
using static LeNet.Tests.Kernels.GradientCheck;

namespace LeNet.Tests.Kernels;

/// <summary>
/// The generic kernels instantiated at float agree with the double ones on random inputs (normwise rel. 1e-4).
/// </summary>
public class FloatAgreementTests
{
    private const double Tolerance = 1e-4;

    private static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();

    private static void AssertAgrees(double[] expected, float[] actual, string what)
    {
        double error = RelativeError(expected, actual.Select(v => (double)v).ToArray());
        Assert.True(error < Tolerance, $"{what}: float differs from double by relative error {error:E3}.");
    }

    [Fact]
    public void Conv2d()
    {
        var shape = new ConvShape(2, 3, 9, 7, 4, 3, 3, Stride: 2, Padding: 1);
        var rng = new Random(8000);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var bias = Uniform(rng, 4);
        var outputGrad = Uniform(rng, shape.OutputLength);

        var output = new double[shape.OutputLength];
        LeNet.Kernels.Reference.Conv2d.Forward<double>(input, weight, bias, output, shape);
        var outputF = new float[shape.OutputLength];
        LeNet.Kernels.Reference.Conv2d.Forward<float>(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF, shape);
        AssertAgrees(output, outputF, "conv forward");

        var inputGrad = new double[shape.InputLength];
        LeNet.Kernels.Reference.Conv2d.BackwardInput<double>(outputGrad, weight, inputGrad, shape);
        var inputGradF = new float[shape.InputLength];
        LeNet.Kernels.Reference.Conv2d.BackwardInput<float>(ToFloat(outputGrad), ToFloat(weight), inputGradF, shape);
        AssertAgrees(inputGrad, inputGradF, "conv backward input");

        var weightGrad = new double[shape.WeightLength];
        LeNet.Kernels.Reference.Conv2d.BackwardWeight<double>(input, outputGrad, weightGrad, shape);
        var weightGradF = new float[shape.WeightLength];
        LeNet.Kernels.Reference.Conv2d.BackwardWeight<float>(ToFloat(input), ToFloat(outputGrad), weightGradF, shape);
        AssertAgrees(weightGrad, weightGradF, "conv backward weight");
    }

    [Fact]
    public void Pooling()
    {
        var shape = new PoolShape(2, 3, 7, 9, 2, 2);
        var rng = new Random(8100);
        var input = Uniform(rng, shape.InputLength);

        var output = new double[shape.OutputLength];
        var argmax = new int[shape.OutputLength];
        MaxPool2d.Forward<double>(input, output, argmax, shape);
        var outputF = new float[shape.OutputLength];
        var argmaxF = new int[shape.OutputLength];
        MaxPool2d.Forward<float>(ToFloat(input), outputF, argmaxF, shape);
        AssertAgrees(output, outputF, "max-pool forward");
        Assert.Equal(argmax, argmaxF);

        AvgPool2d.Forward<double>(input, output, shape);
        AvgPool2d.Forward<float>(ToFloat(input), outputF, shape);
        AssertAgrees(output, outputF, "avg-pool forward");
    }

    [Fact]
    public void BatchNorm2d()
    {
        var shape = new BatchNormShape(4, 3, 25);
        var rng = new Random(8200);
        var input = Uniform(rng, shape.Length, -2, 3);
        var gamma = Uniform(rng, 3, 0.5, 1.5);
        var beta = Uniform(rng, 3);
        var runningMean = Uniform(rng, 3);
        var runningVar = Uniform(rng, 3, 0.5, 2);
        var outputGrad = Uniform(rng, shape.Length);

        var output = new double[shape.Length];
        var (mean, invStd) = (new double[3], new double[3]);
        var (runningMeanD, runningVarD) = ((double[])runningMean.Clone(), (double[])runningVar.Clone());
        LeNet.Kernels.Reference.BatchNorm2d.ForwardTraining<double>(input, gamma, beta, output, mean, invStd,
            runningMeanD, runningVarD, 0.1, 1e-5, shape);
        var outputF = new float[shape.Length];
        var (meanF, invStdF) = (new float[3], new float[3]);
        var (runningMeanF, runningVarF) = (ToFloat(runningMean), ToFloat(runningVar));
        LeNet.Kernels.Reference.BatchNorm2d.ForwardTraining<float>(ToFloat(input), ToFloat(gamma), ToFloat(beta),
            outputF, meanF, invStdF, runningMeanF, runningVarF, 0.1f, 1e-5f, shape);
        AssertAgrees(output, outputF, "batch-norm training forward");
        AssertAgrees(runningMeanD, runningMeanF, "batch-norm running mean");
        AssertAgrees(runningVarD, runningVarF, "batch-norm running variance");

        var inputGrad = new double[shape.Length];
        LeNet.Kernels.Reference.BatchNorm2d.Backward<double>(outputGrad, input, gamma, mean, invStd, inputGrad,
            new double[3], new double[3], shape);
        var inputGradF = new float[shape.Length];
        LeNet.Kernels.Reference.BatchNorm2d.Backward<float>(ToFloat(outputGrad), ToFloat(input), ToFloat(gamma), meanF,
            invStdF, inputGradF, new float[3], new float[3], shape);
        AssertAgrees(inputGrad, inputGradF, "batch-norm backward input");

        LeNet.Kernels.Reference.BatchNorm2d.ForwardInference<double>(input, gamma, beta, runningMean, runningVar, 1e-5,
            output, shape);
        LeNet.Kernels.Reference.BatchNorm2d.ForwardInference<float>(ToFloat(input), ToFloat(gamma), ToFloat(beta),
            ToFloat(runningMean), ToFloat(runningVar), 1e-5f, outputF, shape);
        AssertAgrees(output, outputF, "batch-norm inference forward");
    }

    [Fact]
    public void Linear()
    {
        var shape = new LinearShape(5, 120, 84);
        var rng = new Random(8300);
        var input = Uniform(rng, shape.InputLength);
        var weight = Uniform(rng, shape.WeightLength);
        var bias = Uniform(rng, 84);
        var output = new double[shape.OutputLength];
        LeNet.Kernels.Reference.Linear.Forward<double>(input, weight, bias, output, shape);
        var outputF = new float[shape.OutputLength];
        LeNet.Kernels.Reference.Linear.Forward<float>(ToFloat(input), ToFloat(weight), ToFloat(bias), outputF, shape);
        AssertAgrees(output, outputF, "linear forward");
    }

    [Fact]
    public void Activations()
    {
        var rng = new Random(8400);
        var input = Uniform(rng, 101, -6, 6);
        var output = new double[101];
        var outputF = new float[101];

        ReLU.Forward<double>(input, output);
        ReLU.Forward<float>(ToFloat(input), outputF);
        AssertAgrees(output, outputF, "ReLU forward");

        Tanh.Forward<double>(input, output);
        Tanh.Forward<float>(ToFloat(input), outputF);
        AssertAgrees(output, outputF, "tanh forward");

        Sigmoid.Forward<double>(input, output);
        Sigmoid.Forward<float>(ToFloat(input), outputF);
        AssertAgrees(output, outputF, "sigmoid forward");
    }

    [Fact]
    public void SoftmaxCrossEntropy()
    {
        const int batch = 16, classes = 10;
        var rng = new Random(8500);
        var logits = Uniform(rng, batch * classes, -5, 5);
        var labels = Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
        var probabilities = new double[batch * classes];
        double loss = LeNet.Kernels.Reference.SoftmaxCrossEntropy.Forward<double>(logits, labels, probabilities, batch,
            classes);
        var probabilitiesF = new float[batch * classes];
        float lossF = LeNet.Kernels.Reference.SoftmaxCrossEntropy.Forward<float>(ToFloat(logits), labels,
            probabilitiesF, batch, classes);
        AssertAgrees(probabilities, probabilitiesF, "softmax probabilities");
        AssertAgrees([loss], [lossF], "cross-entropy loss");
    }

    [Fact]
    public void Optimizers()
    {
        var rng = new Random(8600);
        var parameter = Uniform(rng, 50);
        var grad = Uniform(rng, 50);

        var (p, m, v) = ((double[])parameter.Clone(), new double[50], new double[50]);
        var (pF, mF, vF) = (ToFloat(parameter), new float[50], new float[50]);
        for (int step = 1; step <= 3; step++)
        {
            Adam.Step<double>(p, grad, m, v, step, 1e-3, 0.9, 0.999, 1e-8, 1e-2, decoupled: step % 2 == 0);
            Adam.Step<float>(pF, ToFloat(grad), mF, vF, step, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f,
                decoupled: step % 2 == 0);
        }
        AssertAgrees(p, pF, "Adam");

        var (ps, buffer) = ((double[])parameter.Clone(), new double[50]);
        var (psF, bufferF) = (ToFloat(parameter), new float[50]);
        for (int step = 1; step <= 3; step++)
        {
            Sgd.Step<double>(ps, grad, buffer, step == 1, 0.1, 0.9, 0, 1e-2, nesterov: true);
            Sgd.Step<float>(psF, ToFloat(grad), bufferF, step == 1, 0.1f, 0.9f, 0f, 1e-2f, nesterov: true);
        }
        AssertAgrees(ps, psF, "SGD");
    }
}
