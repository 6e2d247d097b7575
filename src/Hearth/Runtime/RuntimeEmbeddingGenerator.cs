using System.Diagnostics;
using Hearth.Privacy;
using Microsoft.Extensions.AI;

namespace Hearth.Runtime;

/// <summary>
/// <c>models.embedding</c> as the runtime's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>: every call leases
/// the model from the model host (loaded on first use like a chat model, counted against <c>models.memory_budget</c>,
/// unloaded after <c>keep_alive</c>, listed by <c>ps</c> as <c>embedding:NAME</c>, never unmapped mid-call) and, when
/// an audit trail is given, is written to it (route <c>embedding</c>, provider <c>embedded</c>, the model's digest,
/// input tokens, latency, outcome; no text) and, when a usage ledger is given, to that (kind <c>embedding</c>) for
/// <c>hearth cost</c>. Nothing leaves the machine.
/// </summary>
internal sealed class RuntimeEmbeddingGenerator(ModelHost host, string model, Func<string, string?> digest, AuditLog? audit, UsageLedger? usage)
    : IEmbeddingGenerator<string, Embedding<float>>
{
    public EmbeddingGeneratorMetadata Metadata { get; } = new("hearth", defaultModelId: model);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var id = Guid.NewGuid().ToString("N");
        var clock = Stopwatch.StartNew();
        string decision = "completed";
        long? tokens = null;
        try
        {
            using var lease = await host.AcquireAsync(EmbeddedModelLoader.EmbeddingPrefix + model, null, cancellationToken).ConfigureAwait(false);
            var generator = lease.Client.GetService<IEmbeddingGenerator<string, Embedding<float>>>()
                ?? throw new ModelUnavailableException($"model '{model}' did not load as an embedding model");
            var result = await generator.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
            tokens = result.Usage?.InputTokenCount;
            foreach (var e in result)
                e.ModelId = model;
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
            usage?.Append(new UsageRecord(DateTimeOffset.UtcNow, "embedded", model, null, tokens is { } n ? (int)Math.Min(n, int.MaxValue) : 0, 0,
                clock.Elapsed.TotalSeconds, decision, UsageRecord.Embedding));
            audit?.AppendRequest(new AuditRequestRecord
            {
                RequestId = id,
                Route = "embedding",
                Provider = "embedded",
                ModelDigest = digest(model) ?? model,
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

    /// <summary>The model host owns the model.</summary>
    public void Dispose()
    {
    }
}
