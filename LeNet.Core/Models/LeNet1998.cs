using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>
/// LeNet-5 in the spirit of LeCun et al. (1998): the AveragePoolingLeNet topology with tanh. The paper's scaled tanh,
/// trainable subsampling, sparse C3 connection table and RBF output are left out, as in most modern re-creations.
/// </summary>
public sealed class LeNet1998(int classes = 10, int seed = 0) : AveragePoolingLeNet(classes, seed, () => new Tanh())
{
    public const string ModelName = "lenet1998";
}
