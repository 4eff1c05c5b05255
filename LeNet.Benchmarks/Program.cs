using BenchmarkDotNet.Running;

// dotnet run -c Release --project LeNet.Benchmarks -- --filter '*'   (or pick classes interactively)
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
