using Hearth.Engine.Model;
using Hearth.Engine.Tokenization;
using Microsoft.Extensions.AI;

namespace Hearth.Engine.Generation;

/// <summary>How per-token hidden states become one embedding (llama.cpp's <c>pooling_type</c> values 1–3).</summary>
public enum PoolingType
{
    /// <summary>Mean over the tokens.</summary>
    Mean = 1,

    /// <summary>The first token's state.</summary>
    Cls = 2,

    /// <summary>The last token's state (decoder embedding models such as Qwen3-Embedding).</summary>
    Last = 3,
}

/// <summary>Options for <see cref="EngineEmbeddingGenerator.Open"/>.</summary>
public sealed record EngineEmbeddingOptions
{
    /// <summary>Threads per matrix product, the caller included; 0 = physical cores.</summary>
    public int Threads { get; init; }

    /// <summary>Pooling to use; null = the model's <c>{arch}.pooling_type</c>. A model that declares none is a
    /// generative model, and opening it for embeddings is refused unless a pooling is given here.</summary>
    public PoolingType? Pooling { get; init; }

    /// <summary>Scale every embedding to unit length (what llama.cpp's embedding tools and the OpenAI API return).</summary>
    public bool Normalize { get; init; } = true;
}

/// <summary>
/// The embedded engine as an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>: each text is tokenized (with the
/// model's BOS/EOS as its tokenizer metadata says), run through the forward pass without logits, and its final hidden
/// states (after the output norm) pooled as the model declares (mean, first or last token) and L2-normalized.
/// The weights are mapped once and shared; every call has its own session, so concurrent callers are safe.
/// </summary>
public sealed class EngineEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly TransformerModel _model;
    private readonly Tokenizer _tokenizer;
    private readonly int _threads;
    private readonly bool _normalize;
    private readonly object _gate = new();
    private int _active;
    private bool _disposed;

    private EngineEmbeddingGenerator(TransformerModel model, Tokenizer tokenizer, PoolingType pooling, EngineEmbeddingOptions options, string modelId)
    {
        _model = model;
        _tokenizer = tokenizer;
        _threads = options.Threads;
        _normalize = options.Normalize;
        Pooling = pooling;
        Metadata = new EmbeddingGeneratorMetadata("hearth-embedded", defaultModelId: modelId, defaultModelDimensions: model.Config.EmbeddingLength);
    }

    /// <summary>Describes this generator (dimensions = the model's embedding length).</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <summary>The pooling in use.</summary>
    public PoolingType Pooling { get; }

    /// <summary>Values per embedding.</summary>
    public int Dimensions => _model.Config.EmbeddingLength;

    /// <summary>The pooling a GGUF file declares (<c>{arch}.pooling_type</c> 1, 2 or 3), or null when it declares none
    /// (0, absent) — i.e. whether the file is an embedding model.</summary>
    public static PoolingType? DeclaredPooling(Hearth.Gguf.GgufMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.GetArchInteger("pooling_type") switch
        {
            1 => PoolingType.Mean,
            2 => PoolingType.Cls,
            3 => PoolingType.Last,
            _ => null,
        };
    }

    /// <summary>Opens a GGUF model for embeddings. Errors name the file and the problem: not an embedding model (no
    /// pooling declared and none given), a pooling or attention the engine does not implement, format, tensors.</summary>
    public static EngineEmbeddingGenerator Open(string path, EngineEmbeddingOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new EngineEmbeddingOptions();
        var model = TransformerModel.Load(path);
        try
        {
            var md = model.File.Metadata;
            var declared = md.GetArchInteger("pooling_type");
            if (declared is < 0 or > 3)
                throw new ModelLoadException($"{path}: {md.Architecture}.pooling_type is {declared}; the engine pools mean (1), cls (2) or last (3).");
            var pooling = options.Pooling ?? DeclaredPooling(md)
                ?? throw new ModelLoadException($"{path}: not an embedding model: it declares no {md.Architecture}.pooling_type (a generative model); pass a pooling explicitly to embed with it anyway.");
            if (md.GetBool($"{md.Architecture}.attention.causal") == false)
                throw new ModelLoadException($"{path}: the model uses bidirectional (non-causal) attention, which the engine does not implement; it runs causal decoder models.");
            if (pooling == PoolingType.Cls)
                throw new ModelLoadException($"{path}: cls pooling on a causal model would give every text the same vector (the first token's state sees only itself); use mean or last.");
            var tokenizer = Tokenizer.FromGguf(model.File);
            var id = md.Name ?? Path.GetFileNameWithoutExtension(path);
            return new EngineEmbeddingGenerator(model, tokenizer, pooling, options, id);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        if (options?.Dimensions is { } d && d != Dimensions)
            throw new ArgumentException($"the embeddings of '{Metadata.DefaultModelId}' have {Dimensions} dimensions; {d} were asked for", nameof(options));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _active++;
        }
        // The weights stay mapped until the last running call ends, even when Dispose comes first.
        return Task.Run(() => Generate(texts, cancellationToken), cancellationToken).ContinueWith(
            t =>
            {
                Release();
                return t;
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();
    }

    private void Release()
    {
        lock (_gate)
        {
            if (--_active == 0 && _disposed)
                _model.Dispose();
        }
    }

    private GeneratedEmbeddings<Embedding<float>> Generate(List<string> values, CancellationToken cancellationToken)
    {
        // Every input is tokenized and checked first, then one session (sized for the longest) serves them all:
        // its buffers, RoPE tables and worker threads are made once per call, not once per text.
        var inputs = new int[values.Count][];
        for (var index = 0; index < values.Count; index++)
        {
            var tokens = _tokenizer.Encode(values[index] ?? "", addSpecial: true, parseSpecial: false);
            if (tokens.Length == 0)
                throw new ArgumentException($"input {index} has no tokens (an empty text, and '{Metadata.DefaultModelId}' adds no BOS/EOS): it has no embedding", nameof(values));
            if (tokens.Length > _model.Config.ContextLength)
                throw new ArgumentException($"input {index} is {tokens.Length} tokens; the context of '{Metadata.DefaultModelId}' holds {_model.Config.ContextLength}", nameof(values));
            inputs[index] = tokens;
        }
        var result = new List<Embedding<float>>(values.Count);
        if (inputs.Length == 0)
            return new GeneratedEmbeddings<Embedding<float>>(result) { Usage = new UsageDetails { InputTokenCount = 0, TotalTokenCount = 0 } };
        using var session = new InferenceSession(_model, new SessionOptions { ContextLength = inputs.Max(t => t.Length), Threads = _threads });
        foreach (var tokens in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var vector = new float[Dimensions];
            session.Rewind(0);
            session.Embed(tokens, Pooling, vector);
            if (_normalize)
                Normalize(vector);
            result.Add(new Embedding<float>(vector) { ModelId = Metadata.DefaultModelId, CreatedAt = DateTimeOffset.UtcNow });
        }
        long tokensTotal = inputs.Sum(t => (long)t.Length);
        return new GeneratedEmbeddings<Embedding<float>>(result)
        {
            Usage = new UsageDetails { InputTokenCount = tokensTotal, TotalTokenCount = tokensTotal },
        };
    }

    /// <summary>Scales <paramref name="v"/> to unit Euclidean length (a zero vector stays zero).</summary>
    internal static void Normalize(Span<float> v)
    {
        double sum = 0;
        foreach (var x in v)
            sum += (double)x * x;
        if (sum <= 0)
            return;
        var inv = (float)(1 / Math.Sqrt(sum));
        for (var i = 0; i < v.Length; i++)
            v[i] *= inv;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
            : null;
    }

    /// <summary>Unmaps the model once no call is running (at once when none is).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            if (_active == 0)
                _model.Dispose();
        }
    }
}
