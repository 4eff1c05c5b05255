namespace LeNet.Tests.Mnist;

/// <summary>Tests that change process-wide environment variables: run alone, never beside other tests.</summary>
[CollectionDefinition(nameof(EnvironmentVariableCollection), DisableParallelization = true)]
public sealed class EnvironmentVariableCollection;
