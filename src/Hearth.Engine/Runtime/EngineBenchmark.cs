using System.Diagnostics;
using Hearth.Engine.Model;

namespace Hearth.Engine.Runtime;

/// <summary>Mean and standard deviation of tokens per second over repetitions.</summary>
internal readonly record struct Throughput(double Mean, double StdDev)
{
    /// <inheritdoc />
    public override string ToString() => $"{Mean:F2} ± {StdDev:F2}";

    public static Throughput Of(IReadOnlyList<double> samples)
    {
        var mean = samples.Average();
        var sd = samples.Count > 1 ? Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / (samples.Count - 1)) : 0;
        return new Throughput(mean, sd);
    }
}

/// <summary>Result of <see cref="EngineBenchmark.Run"/>: llama-bench's pp and tg figures.</summary>
internal sealed record BenchmarkResult(int PromptTokens, int GeneratedTokens, int Threads, Throughput Prompt, Throughput Generation, long WeightBytes, long AllocatedBytesPerToken);

/// <summary>
/// llama-bench's two measurements on a loaded model: pp (a prompt of random tokens evaluated as one
/// batch from an empty cache) and tg (tokens generated one at a time from an empty cache), in tokens/s.
/// Also records bytes allocated on the calling thread per generated token (expected 0).
/// </summary>
internal static class EngineBenchmark
{
    public static BenchmarkResult Run(TransformerModel model, int promptTokens, int generateTokens, int threads, int repetitions)
    {
        ArgumentNullException.ThrowIfNull(model);
        var ctx = Math.Max(promptTokens, generateTokens) + 1;
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = ctx, BatchSize = Math.Max(1, promptTokens), Threads = threads });
        var rng = new Random(42);
        var prompt = new int[Math.Max(1, promptTokens)];
        for (var i = 0; i < prompt.Length; i++)
            prompt[i] = rng.Next(model.Config.VocabSize);

        // Warm-up: page in the weights, JIT the kernels.
        session.Evaluate(prompt.AsSpan(0, Math.Min(prompt.Length, 16)));
        session.Rewind(0);
        session.Evaluate([1]);

        var pp = new List<double>();
        var tg = new List<double>();
        long allocated = 0;
        for (var r = 0; r < repetitions; r++)
        {
            if (promptTokens > 0)
            {
                session.Rewind(0);
                var sw = Stopwatch.StartNew();
                session.Evaluate(prompt);
                pp.Add(promptTokens / sw.Elapsed.TotalSeconds);
            }
            if (generateTokens > 0)
            {
                session.Rewind(0);
                var token = 1;
                var start = Stopwatch.GetTimestamp();
                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < generateTokens; i++)
                {
                    var logits = session.Evaluate([token]);
                    token = (int)((uint)BitConverter.SingleToInt32Bits(logits[i % logits.Length]) % (uint)model.Config.VocabSize);
                }
                var after = GC.GetAllocatedBytesForCurrentThread();
                var elapsed = Stopwatch.GetElapsedTime(start);
                allocated = Math.Max(allocated, (after - before) / generateTokens);
                tg.Add(generateTokens / elapsed.TotalSeconds);
            }
        }
        var weightBytes = model.TensorBytes;
        return new BenchmarkResult(promptTokens, generateTokens, session.Threads,
            pp.Count > 0 ? Throughput.Of(pp) : default, tg.Count > 0 ? Throughput.Of(tg) : default, weightBytes, allocated);
    }
}
