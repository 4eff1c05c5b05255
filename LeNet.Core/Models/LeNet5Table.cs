using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>LeNet-5 as the reference article's architecture table draws it: AveragePoolingLeNet with ReLU.</summary>
public sealed class LeNet5Table(int classes = 10, int seed = 0) : AveragePoolingLeNet(classes, seed, () => new ReLU())
{
    public const string ModelName = "lenet5-table";
}
