namespace LeNet.Core.Autograd;

/// <summary>
/// Where a backward kernel writes one input's gradient, and whether it overwrites the buffer (the first writer of a
/// pass; it holds stale values) or adds to it (every later writer). A kernel without an overwriting form clears first.
/// </summary>
public readonly record struct GradientTarget(Tensor Tensor, bool Overwrite);
