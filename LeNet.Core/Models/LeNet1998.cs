using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 in the spirit of LeCun et al. (1998): the <see cref="AveragePoolingLeNet"/> topology with tanh, no
/// BatchNorm. The paper's scaled tanh, trainable subsampling coefficients, sparse C3 connection table and RBF output
/// layer are left out, as in most modern re-creations; 61,706 trainable parameters for 10 classes.
/// </summary>
public sealed class LeNet1998(int classes = 10, int seed = 0) : AveragePoolingLeNet(classes, seed, () => new Tanh())
{
    public const string ModelName = "lenet1998";
}
