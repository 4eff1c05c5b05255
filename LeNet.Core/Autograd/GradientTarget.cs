namespace LeNet.Core.Autograd;

/// <summary>
/// Where a backward kernel writes one input's gradient: the buffer, and whether it overwrites it (the first writer of a
/// backward pass; the buffer holds stale values) or adds to it (every later writer). The tape decides
/// (<see cref="GradientTape.Target"/>); a kernel without an overwriting form clears the buffer first.
/// </summary>
public readonly record struct GradientTarget(Tensor Tensor, bool Overwrite);
