using System.Diagnostics;
using Hearth.Engine.Generation;
using Hearth.Privacy;
using Microsoft.Extensions.AI;

namespace Hearth.Runtime;

/// <summary>
/// <c>models.embedding</c> as the runtime's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>: the model is
/// resolved like a chat model (store name or GGUF path, never downloaded), opened on first use by the embedded engine
/// and kept; every call is written to the audit trail (route <c>embedding</c>, provider <c>embedded</c>, the model's
/// digest, input tokens, latency, outcome; no text). Nothing leaves the machine.
/// </summary>
internal sealed class RuntimeEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly string _model;
    private readonly Func<string, string> _resolve;
    private readonly Func<string, string?> _digest;
    private readonly AuditLog? _audit;
    private readonly int _threads;
    private readonly object _gate = new();
    private EngineEmbeddingGenerator? _engine;
    private int _disposed;

    public RuntimeEmbeddingGenerator(string model, Func<string, string> resolvePath, Func<string, string?> digest, AuditLog? audit, int threads)
    {
        _model = model;
        _resolve = resolvePath;
        _digest = digest;
        _audit = audit;
        _threads = threads;
        Metadata = new EmbeddingGeneratorMetadata("hearth", defaultModelId: model);
    }

    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <summary>The engine's generator, opened on first use (errors name the model and the problem).</summary>
    internal EngineEmbeddingGenerator Engine
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                if (_engine is null)
                {
                    var path = _resolve(_model);
                    try
                    {
                        _engine = EngineEmbeddingGenerator.Open(path, new EngineEmbeddingOptions { Threads = _threads });
                    }
                    catch (Exception ex) when (ex is Hearth.Engine.Model.ModelLoadException or Hearth.Gguf.GgufFormatException)
                    {
                        throw new ModelUnavailableException($"embedding model '{_model}' ({path}): {ex.Message}", ex);
                    }
                }
                return _engine;
            }
        }
    }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var id = Guid.NewGuid().ToString("N");
        var clock = Stopwatch.StartNew();
        string decision = "completed";
        long? tokens = null;
        try
        {
            var result = await Engine.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
            tokens = result.Usage?.InputTokenCount;
            foreach (var e in result)
                e.ModelId = _model;
            return result;
        }
        catch (OperationCanceledException)
        {
            decision = "cancelled";
            throw;
        }
        catch (Exception ex)
        {
            decision = "failed: " + ex.GetType().Name;
            throw;
        }
        finally
        {
            _audit?.AppendRequest(new AuditRequestRecord
            {
                RequestId = id,
                Route = "embedding",
                Provider = "embedded",
                ModelDigest = _digest(_model) ?? _model,
                InputTokens = tokens is { } t ? (int)Math.Min(t, int.MaxValue) : null,
                Latency = clock.Elapsed,
                Decision = decision,
            });
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
            : null;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            _engine?.Dispose();
        }
    }
}
