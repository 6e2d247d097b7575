using Hearth.Engine.Model;
using Hearth.Engine.Runtime;
using Hearth.Engine.Sampling;
using Hearth.Gguf;

namespace Hearth.Engine.Tests.Model;

/// <summary>Synthetic models load and run; batched prompt == token by token; threads agree; decoding allocates nothing.</summary>
public sealed class SyntheticModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-engine-synth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Make(string mix)
    {
        var path = Path.Combine(_dir, mix + ".gguf");
        SyntheticModel.Write(path, ModelShape.Get("tiny"), mix, seed: 3);
        return path;
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_k_m")]
    [InlineData("f16")]
    public void BatchedPromptEqualsTokenByTokenAndThreadsAgree(string mix)
    {
        using var model = TransformerModel.Load(Make(mix));
        Assert.Equal(2, model.Config.LayerCount);
        if (mix == "q4_k_m")
        {
            Assert.Equal(GgmlType.Q6_K, model.Weights.Output.Type);
            Assert.Equal(GgmlType.Q4_K, model.Weights.Layers[0].Query.Type);
        }
        var tokens = Enumerable.Range(0, 40).Select(i => (i * 37 + 5) % model.Config.VocabSize).ToArray();
        var vocab = model.Config.VocabSize;

        using var batched = new InferenceSession(model, new SessionOptions { ContextLength = 64, BatchSize = 16, LogitRows = 40, Threads = 2 });
        var all = batched.Evaluate(tokens, allPositions: true).ToArray();

        // Token by token on one thread, and on three (rows taken from a shared counter: any schedule, same rows).
        using var single = new InferenceSession(model, new SessionOptions { ContextLength = 64, Threads = 1 });
        using var three = new InferenceSession(model, new SessionOptions { ContextLength = 64, Threads = 3 });
        for (var t = 0; t < tokens.Length; t++)
        {
            var row = single.Evaluate(tokens.AsSpan(t, 1)).ToArray();
            var shared = three.Evaluate(tokens.AsSpan(t, 1));
            for (var v = 0; v < vocab; v++)
            {
                Assert.Equal(all[t * vocab + v], row[v]);
                Assert.Equal(row[v], shared[v]);
            }
        }
        Assert.All(all, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void F16KvCacheStaysCloseToF32()
    {
        using var model = TransformerModel.Load(Make("q8_0"));
        var tokens = Enumerable.Range(1, 20).ToArray();
        using var f32 = new InferenceSession(model, new SessionOptions { ContextLength = 32, Threads = 1 });
        using var f16 = new InferenceSession(model, new SessionOptions { ContextLength = 32, Threads = 1, KvCache = KvCacheType.F16 });
        var a = f32.Evaluate(tokens).ToArray();
        var b = f16.Evaluate(tokens).ToArray();
        var max = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        Assert.InRange(max, 1e-9f, 0.1f);
    }

    [Fact]
    public void GeneratingTokensAllocatesNothing()
    {
        using var model = TransformerModel.Load(Make("q4_k_m"));
        foreach (var threads in (int[])[1, 2])
        {
            using var session = new InferenceSession(model, new SessionOptions { ContextLength = 64, Threads = threads });
            var sampler = new Sampler(new SamplingOptions { Seed = 1, RepetitionPenalty = 1.1f }, model.Config.VocabSize);
            var history = new int[64];
            // A whole first pass warms every code path a generation of this length takes (first uses run static
            // initializers, on whichever thread's share of the work reaches them first); the second pass is measured.
            for (var pass = 0; pass < 2; pass++)
            {
                session.Rewind(0);
                history[0] = 1;
                var logits = session.Evaluate(history.AsSpan(0, 1));
                var next = sampler.Sample(logits, history.AsSpan(0, 1));
                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 1; i < 32; i++)
                {
                    history[i] = next;
                    logits = session.Evaluate(history.AsSpan(i, 1));
                    next = sampler.Sample(logits, history.AsSpan(0, i + 1));
                }
                if (pass == 1)
                    Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
    }

    [Fact]
    public void ContextOverflowAndBadTokensAreErrors()
    {
        using var model = TransformerModel.Load(Make("q8_0"));
        using var session = new InferenceSession(model, new SessionOptions { ContextLength = 8, Threads = 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Evaluate([model.Config.VocabSize]));
        session.Evaluate([1, 2, 3, 4, 5, 6, 7, 8]);
        var e = Assert.Throws<InvalidOperationException>(() => session.Evaluate([1]));
        Assert.Contains("8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchmarkReportsThroughput()
    {
        using var model = TransformerModel.Load(Make("q8_0"));
        var r = EngineBenchmark.Run(model, promptTokens: 32, generateTokens: 8, threads: 2, repetitions: 2);
        Assert.True(r.Prompt.Mean > 0 && r.Generation.Mean > 0);
        Assert.Equal(0, r.AllocatedBytesPerToken);
    }
}
