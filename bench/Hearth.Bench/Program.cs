using BenchmarkDotNet.Running;

// Run: dotnet run -c Release --project bench/Hearth.Bench -- --filter '*'
// Engine throughput (llama-bench style): dotnet run -c Release --project bench/Hearth.Bench -- engine llama-1b q4_k_m 1,2 2
// Dot kernel throughput per weight type (fast vs reference, in and out of cache): ... -- kernels [types] [seconds]
if (args.Length > 0 && args[0] == "kernels")
    return Hearth.Bench.KernelBench.Run(args);
if (args.Length > 0 && args[0] == "engine")
    return EngineBench.Run(args);
// Model store pull + verify throughput from a loopback server: ... -- store [MiB] [reps]
if (args.Length > 0 && args[0] == "store")
    return await StoreBench.RunAsync(args);
// Server added latency and concurrent-stream throughput (loopback): ... -- server [requests] [tokens]
if (args.Length > 0 && args[0] == "server")
    return await ServerBench.RunAsync(args);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
