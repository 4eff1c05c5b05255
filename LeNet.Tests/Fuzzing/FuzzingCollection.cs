namespace LeNet.Tests.Fuzzing;

/// <summary>
/// Runs alone: the fuzzer counts the bytes every thread of the process allocates while a case is read (the reader
/// preprocesses in parallel), which other tests running at the same time would add to.
/// </summary>
[CollectionDefinition(nameof(FuzzingCollection), DisableParallelization = true)]
public sealed class FuzzingCollection;
