namespace LeNet.Core.Modules;

/// <summary>Applies its modules in order; they are named "0", "1", ... as in PyTorch.</summary>
public sealed class Sequential : Module
{
    private readonly Module[] _layers;

    public Sequential(params Module[] layers)
    {
        _layers = layers;
        for (var i = 0; i < layers.Length; i++)
            RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    public IReadOnlyList<Module> Layers => _layers;
    public override Tensor Forward(Tensor input)
    {
        foreach (var layer in _layers) input = layer.Forward(input);
        return input;
    }
}
