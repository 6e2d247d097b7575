using System.Globalization;
using Hearth.Engine.Model;
using Hearth.Engine.Runtime;

/// <summary>
/// llama-bench-style throughput of the engine on a synthetic model:
/// <c>dotnet run -c Release --project bench/Hearth.Bench -- engine llama-1b q4_k_m [threads,..] [reps] [pp] [tg]</c>.
/// The model is written to a temp file and deleted afterwards.
/// </summary>
internal static class EngineBench
{
    public static int Run(string[] args)
    {
        var shape = ModelShape.Get(args.Length > 1 ? args[1] : "llama-1b");
        var mix = args.Length > 2 ? args[2] : "q4_k_m";
        var threads = (args.Length > 3 ? args[3] : "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var reps = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 2;
        var pp = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 512;
        var tg = args.Length > 6 ? int.Parse(args[6], CultureInfo.InvariantCulture) : 128;
        // HEARTH_BENCH_MODEL=FILE keeps (and reuses) the model file, so llama.cpp's llama-bench can run on the same bytes.
        var keep = Environment.GetEnvironmentVariable("HEARTH_BENCH_MODEL");
        var path = keep ?? Path.Combine(Path.GetTempPath(), $"hearth-bench-{shape.Name}-{mix}-{Environment.ProcessId}.gguf");
        try
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            if (keep is null || !File.Exists(path))
            {
                SyntheticModel.Write(path, shape, mix);
                Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1048576.0:F0} MiB) in {sw.Elapsed.TotalSeconds:F1} s");
            }
            using var model = TransformerModel.Load(path);
            foreach (var t in threads)
            {
                var r = EngineBenchmark.Run(model, pp, tg, t, reps);
                // The ceiling, measured right after the run with the same thread count: read bandwidth ÷ weight bytes.
                var bw = MemoryBandwidth.Measure(1L << 30, r.Threads);
                var ceiling = bw.CeilingTokensPerSecond(r.WeightBytes);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{shape.Name} {mix} threads {r.Threads}: pp{pp} {r.Prompt} tok/s, tg{tg} {r.Generation} tok/s, weights {r.WeightBytes / 1048576.0:F0} MiB, " +
                    $"effective bandwidth {r.Generation.Mean * r.WeightBytes / 1e9:F1} GB/s of measured {bw.BytesPerSecond / 1e9:F1} GB/s, " +
                    $"ceiling {ceiling:F2} tok/s, tg/ceiling {r.Generation.Mean / ceiling:F2}, allocated/token {r.AllocatedBytesPerToken} B"));
            }
            return 0;
        }
        finally
        {
            if (keep is null)
                File.Delete(path);
        }
    }
}
