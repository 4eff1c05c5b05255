using LeNet.Core.Cuda;
using static LeNet.Train.OptionParsers;

namespace LeNet.Train;

/// <summary>--device for the commands that run a model: cpu, cuda (the first NVIDIA GPU) or auto.</summary>
internal static class DeviceOption
{
    public static Option<string> Create(string description, string defaultValue = "cpu") =>
        OneOf(Described("--device", description, defaultValue), "a device", "cpu", "cuda", "auto");

    /// <summary>
    /// The device <paramref name="name"/> names: <paramref name="cpu"/>, the first CUDA GPU (or one sentence saying why
    /// there is none), or for auto the GPU when one opens, else the CPU, saying which and why.
    /// </summary>
    public static Device Open(string name, Device cpu, string doing, TextWriter log)
    {
        if (name == "cpu") return cpu;
        if (CudaDevice.TryOpen(out var gpu, out var reason))
        {
            if (name == "auto") log.WriteLine($"--device auto: {doing} on the GPU, {gpu!.Description}.");
            return gpu!;
        }
        if (name == "cuda")
            throw new OptionException(
                $"--device cuda: {reason}; run with --device cpu, or on a machine with an NVIDIA GPU and its driver.");
        log.WriteLine($"--device auto: {reason}, so {doing} on the CPU.");
        return cpu;
    }
}
