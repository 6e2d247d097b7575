using BenchmarkDotNet.Running;

// Run: dotnet run -c Release --project bench/Hearth.Bench -- --filter '*'
// Engine throughput (llama-bench style): dotnet run -c Release --project bench/Hearth.Bench -- engine llama-1b q4_k_m 1,2 2
// Dot kernel throughput per weight type (fast vs reference, in and out of cache): ... -- kernels [types] [seconds]
if (args.Length > 0 && args[0] == "kernels")
    return Hearth.Bench.KernelBench.Run(args);
// Memory read bandwidth, the generation ceiling: ... -- bandwidth [MiB=1024] [threads=1,2] [passes=5]
if (args.Length > 0 && args[0] == "bandwidth")
{
    var mib = args.Length > 1 ? long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1024;
    var passes = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 5;
    foreach (var t in (args.Length > 2 ? args[2] : "1,2").Split(',').Select(int.Parse))
    {
        var r = Hearth.Engine.Runtime.MemoryBandwidth.Measure(mib << 20, t, passes);
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{mib} MiB, {t} thread(s): {r.BytesPerSecond / 1e9:F1} GB/s"));
    }
    return 0;
}
// Tokenizer encode speed on 1 MiB of mixed text, best of N: ... -- tokenize [vocabs=spm-llama2,bpe-llama3,bpe-qwen2,wpm-bert] [reps=3]
if (args.Length > 0 && args[0] == "tokenize")
    return Hearth.Bench.TokenizerBenchmarks.RunQuick(args);
// JSON mode: the cost of the vocabulary scan on a refused step: ... -- json [reps=20]
if (args.Length > 0 && args[0] == "json")
    return Hearth.Bench.JsonModeBench.Run(args);
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
