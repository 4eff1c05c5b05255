namespace LeNet.Mnist;

/// <summary>The four files of the MNIST distribution.</summary>
public enum MnistPart
{
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
}
