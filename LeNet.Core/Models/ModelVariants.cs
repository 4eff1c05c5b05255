using LeNet.Core.Modules;

namespace LeNet.Core.Models;

/// <summary>The model variants by the names the command line and saved files use (--model lenet5 ...).</summary>
public static class ModelVariants
{
    /// <summary>The default first.</summary>
    public static IReadOnlyList<string> Names { get; } = [LeNet5.ModelName, LeNet5Table.ModelName, LeNet1998.ModelName];
    public static bool IsKnown(string name) => Names.Contains(name);

    public static Module Create(string name, int classes = 10, int seed = 0) => name switch
    {
        LeNet5.ModelName => new LeNet5(classes, seed),
        LeNet5Table.ModelName => new LeNet5Table(classes, seed),
        LeNet1998.ModelName => new LeNet1998(classes, seed),
        _ => throw new ArgumentException(
            $"There is no model variant '{name}'; choose one of {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>One line for --help and the README.</summary>
    public static string Describe(string name) => name switch
    {
        LeNet5.ModelName => "the reference article's code: Conv+BatchNorm+ReLU+MaxPool ×2, FC 400→120→84→10",
        LeNet5Table.ModelName => "the article's table: Conv+ReLU+AvgPool ×2, Conv 16→120, FC 120→84→10, no BatchNorm",
        LeNet1998.ModelName => "LeCun et al. 1998 in spirit: as lenet5-table with tanh",
        _ => throw new ArgumentException($"There is no model variant '{name}'.", nameof(name)),
    };
}
