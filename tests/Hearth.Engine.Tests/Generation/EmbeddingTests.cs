using Hearth.Engine.Generation;
using Hearth.Engine.Model;
using Hearth.Gguf;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Tests.Generation;

/// <summary>
/// Embeddings from the engine, checked against the forward pass the logits tests verify against llama.cpp: the
/// last-token state times the output matrix is the logits; mean pooling is the average of every prefix's last state
/// (causal attention); cls is the first token's state.
/// </summary>
public sealed class EmbeddingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-embed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>stories260K with <c>llama.pooling_type</c> (and optionally other keys) set.</summary>
    private string WithKeys(params (string Key, GgufValue Value)[] keys) =>
        TestModels.StoriesWith(Path.Combine(_dir, $"stories-{Guid.NewGuid():N}.gguf"), keys);

    private static float[] Embed(EngineEmbeddingGenerator g, string text) =>
        g.GenerateAsync([text]).GetAwaiter().GetResult()[0].Vector.ToArray();

    [Fact]
    public void LastTokenStateTimesTheOutputMatrixIsTheLogits()
    {
        var path = WithKeys(("llama.pooling_type", GgufValue.FromUInt32(3)));
        using var g = EngineEmbeddingGenerator.Open(path, new EngineEmbeddingOptions { Threads = 1, Normalize = false });
        Assert.Equal(PoolingType.Last, g.Pooling);
        var h = Embed(g, "Once upon a time");

        using var model = TransformerModel.Load(path);
        var tokenizer = Hearth.Engine.Tokenization.Tokenizer.FromGguf(model.File);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        var logits = session.Evaluate(tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false)).ToArray();
        var row = new float[h.Length];
        for (var v = 0; v < model.Config.VocabSize; v++)
        {
            model.Weights.Output.DequantizeRow(v, row);
            double dot = 0;
            for (var i = 0; i < h.Length; i++)
                dot += (double)row[i] * h[i];
            Assert.True(Math.Abs(dot - logits[v]) <= 1e-4 * Math.Max(1, Math.Abs(logits[v])), $"token {v}: Output·h {dot} vs logit {logits[v]}");
        }
    }

    [Fact]
    public void MeanIsTheAverageOfEveryPrefixLastState()
    {
        const string text = "The little dog ran to the park";
        using var mean = EngineEmbeddingGenerator.Open(WithKeys(("llama.pooling_type", GgufValue.FromUInt32(1))), new EngineEmbeddingOptions { Threads = 1, Normalize = false });
        using var model = TransformerModel.Load(Fixtures.Stories260K);
        var tokenizer = Hearth.Engine.Tokenization.Tokenizer.FromGguf(model.File);
        var tokens = tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
        Assert.True(tokens.Length > 3);
        var expected = new double[mean.Dimensions];
        for (var n = 1; n <= tokens.Length; n++)
        {
            // The last state of each prefix, from a session fed exactly that prefix.
            var v = new float[mean.Dimensions];
            using (var s = new InferenceSession(model, new SessionOptions { Threads = 1, ContextLength = n }))
                s.Embed(tokens.AsSpan(0, n), PoolingType.Last, v);
            for (var i = 0; i < v.Length; i++)
                expected[i] += v[i] / tokens.Length;
        }
        var m = Embed(mean, text);
        for (var i = 0; i < m.Length; i++)
            Assert.True(Math.Abs(m[i] - expected[i]) <= 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"dim {i}: mean {m[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(PoolingType.Mean)]
    [InlineData(PoolingType.Last)]
    [InlineData(PoolingType.Cls)]
    public void PoolingAcrossPromptChunksEqualsOneChunk(PoolingType pooling)
    {
        // A text longer than the batch: the states of every chunk are pooled (mean), or taken from the first (cls) or
        // the last (last) chunk only.
        using var model = TransformerModel.Load(Fixtures.Stories260K);
        var tokenizer = Hearth.Engine.Tokenization.Tokenizer.FromGguf(model.File);
        var tokens = tokenizer.Encode("Once upon a time there was a little girl who liked to play in the garden with her red ball", addSpecial: true, parseSpecial: false);
        Assert.True(tokens.Length > 12);
        var whole = new float[model.Config.EmbeddingLength];
        var chunked = new float[model.Config.EmbeddingLength];
        using (var s = new InferenceSession(model, new SessionOptions { Threads = 1, ContextLength = tokens.Length }))
            s.Embed(tokens, pooling, whole);
        using (var s = new InferenceSession(model, new SessionOptions { Threads = 1, ContextLength = tokens.Length, BatchSize = 5 }))
            s.Embed(tokens, pooling, chunked);
        for (var i = 0; i < whole.Length; i++)
            Assert.True(Math.Abs(whole[i] - chunked[i]) <= 1e-5 * Math.Max(1, Math.Abs(whole[i])), $"{pooling} dim {i}: {whole[i]} vs {chunked[i]}");
    }

    [Fact]
    public async Task DisposeWaitsForTheRunningCallBeforeUnmapping()
    {
        var g = EngineEmbeddingGenerator.Open(WithKeys(("llama.pooling_type", GgufValue.FromUInt32(1))), new EngineEmbeddingOptions { Threads = 1 });
        var running = g.GenerateAsync([.. Enumerable.Repeat("Once upon a time there was a little girl named Lily", 40)]);
        g.Dispose();
        var r = await running; // completes on mapped weights
        Assert.Equal(40, r.Count);
        Assert.All(r, e => Assert.True(e.Vector.ToArray().All(float.IsFinite)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => g.GenerateAsync(["x"]));
    }

    [Fact]
    public async Task EmbeddingsAreUnitLengthWithUsageAndDeterministic()
    {
        using var g = EngineEmbeddingGenerator.Open(WithKeys(("llama.pooling_type", GgufValue.FromUInt32(1))), new EngineEmbeddingOptions { Threads = 1 });
        string[] texts = ["a cat sat", "Once upon a time there was a dragon", "a cat sat"];
        var r = await g.GenerateAsync(texts);
        Assert.Equal(3, r.Count);
        foreach (var e in r)
        {
            Assert.Equal(g.Dimensions, e.Vector.Length);
            var norm = Math.Sqrt(e.Vector.ToArray().Sum(x => (double)x * x));
            Assert.InRange(norm, 0.9999, 1.0001);
        }
        Assert.Equal(r[0].Vector.ToArray(), r[2].Vector.ToArray());
        Assert.NotEqual(r[0].Vector.ToArray(), r[1].Vector.ToArray());
        using var file = GgufFile.Open(Fixtures.Stories260K);
        var tokenizer = Hearth.Engine.Tokenization.Tokenizer.FromGguf(file);
        Assert.Equal(texts.Sum(t => tokenizer.Encode(t, addSpecial: true, parseSpecial: false).Length), r.Usage!.InputTokenCount);
        Assert.Equal(g.Dimensions, g.Metadata.DefaultModelDimensions);
        Assert.Same(g, g.GetService<IEmbeddingGenerator<string, Embedding<float>>>());

        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => g.GenerateAsync(texts, cancellationToken: cts.Token));
        await Assert.ThrowsAsync<ArgumentException>(() => g.GenerateAsync(texts, new EmbeddingGenerationOptions { Dimensions = 7 }));
    }

    [Fact]
    public void AGenerativeModelIsRefusedUnlessAPoolingIsGiven()
    {
        var e = Assert.Throws<ModelLoadException>(() => EngineEmbeddingGenerator.Open(Fixtures.Stories260K));
        Assert.Contains("not an embedding model", e.Message);
        Assert.Contains("llama.pooling_type", e.Message);
        using var g = EngineEmbeddingGenerator.Open(Fixtures.Stories260K, new EngineEmbeddingOptions { Pooling = PoolingType.Mean, Threads = 1 });
        Assert.Equal(PoolingType.Mean, g.Pooling);
        using var file = GgufFile.Open(Fixtures.Stories260K);
        Assert.Null(EngineEmbeddingGenerator.DeclaredPooling(file.Metadata));
    }

    [Fact]
    public void BidirectionalAttentionAndUnknownPoolingAreRefused()
    {
        var bert = WithKeys(("llama.pooling_type", GgufValue.FromUInt32(1)), ("llama.attention.causal", GgufValue.FromBool(false)));
        Assert.Contains("non-causal", Assert.Throws<ModelLoadException>(() => EngineEmbeddingGenerator.Open(bert)).Message);
        var rank = WithKeys(("llama.pooling_type", GgufValue.FromUInt32(4)));
        Assert.Contains("pooling_type is 4", Assert.Throws<ModelLoadException>(() => EngineEmbeddingGenerator.Open(rank)).Message);
        // cls on a causal model: the first token's state sees only the BOS token, the same for every text.
        var cls = WithKeys(("llama.pooling_type", GgufValue.FromUInt32(2)));
        Assert.Contains("cls pooling", Assert.Throws<ModelLoadException>(() => EngineEmbeddingGenerator.Open(cls)).Message);
    }
}
