using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 as the reference article's architecture table draws it: the <see cref="AveragePoolingLeNet"/> topology
/// with ReLU, no BatchNorm; 61,706 trainable parameters for 10 classes.
/// </summary>
public sealed class LeNet5Table(int classes = 10, int seed = 0) : AveragePoolingLeNet(classes, seed, () => new ReLU())
{
    public const string ModelName = "lenet5-table";
}
