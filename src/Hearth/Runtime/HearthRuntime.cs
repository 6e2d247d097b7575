using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Routing;
using Hearth.Store;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Hearth.Runtime;

/// <summary>Test and host seams for <see cref="HearthRuntime.Create(HearthConfig, HearthRuntimeOptions?)"/>.</summary>
internal sealed record HearthRuntimeOptions
{
    /// <summary>Replaces the embedded loader (tests load fakes).</summary>
    public IModelLoader? Loader { get; init; }

    public TimeProvider? Time { get; init; }

    /// <summary>Environment lookups (API keys).</summary>
    public Func<string, string?>? Environment { get; init; }

    /// <summary>Threads per generation for the embedded engine; 0 = physical cores.</summary>
    public int Threads { get; init; }

    /// <summary>Start the keep-alive sweeper timer (off in tests that sweep by hand).</summary>
    public bool Sweeper { get; init; } = true;
}

/// <summary>
/// Hearth as one <see cref="IChatClient"/>: privacy policy → domain router → audit → provider (embedded engine via the
/// model host, Ollama, OpenAI-compatible servers, opt-in cloud), built from <c>hearth.yaml</c>. Every HTTP client it
/// makes goes through the egress guard. Dispose it to unload models and close the audit trail.
/// </summary>
public sealed class HearthRuntime : IDisposable
{
    private readonly ProviderRegistry _providers;
    private readonly ProviderDispatcher _dispatcher;
    private readonly InMemoryModelStatsSource _stats = new();
    private readonly RuntimeEmbeddingGenerator? _embeddings;
    private int _disposed;

    private HearthRuntime(HearthConfig config, HearthRuntimeOptions options)
    {
        Config = config;
        Audit = config.Healthcare.AuditTrail == AuditTrailMode.Disabled
            ? null
            : AuditLog.Open(config.AuditDirectory, new AuditLogOptions { Hipaa = config.Healthcare.ComplianceMode == ComplianceMode.Hipaa, Time = options.Time ?? TimeProvider.System });
        try
        {
            if (config.Healthcare.DataRetention is { } retention && Audit is not null)
                Audit.ApplyRetention(retention);
            Guard = HearthHttp.CreateGuard(config, Audit);
            Store = ModelStore.Open(config);
            Usage = UsageLedger.ForHome(config.HearthHome);
            SeedStats();
            Host = new ModelHost(options.Loader ?? new EmbeddedModelLoader(Store, options.Threads, EmbeddedModelLoader.AdapterFilesFrom(config)), config.Models.MemoryBudget, config.Models.KeepAlive, options.Time, options.Sweeper);
            var embedded = new EmbeddedProvider(Host, config.Models.Default, config.Domains);
            _providers = new ProviderRegistry(config, Guard, embedded, options.Environment);
            _dispatcher = new ProviderDispatcher(config, _providers);
            if (config.Models.Embedding is { } embeddingModel)
                _embeddings = new RuntimeEmbeddingGenerator(Host, embeddingModel, ModelDigest, Audit, Usage);
            // router.embedding_weight > 0: the domains' examples are embedded now, each query when it is routed (not
            // audited on its own: routing is part of a request that is audited as a whole).
            Router = config.Models.Embedding is { } routingModel && config.Router.EmbeddingWeight > 0
                ? EmbeddingRouter(config, routingModel)
                : DomainRouter.Create(config, _stats);
            ChatClient = new ChatClientBuilder(_dispatcher)
                .Use(inner => new PrivacyPolicyChatClient(inner, config, Audit))
                .UseRouting(Router)
                .Use(inner => new AuditChatClient(inner, Audit, Usage, o => Resolve(o), ModelDigest, OnCompleted))
                .Build();
        }
        catch
        {
            _providers?.Dispose();
            Host?.Dispose();
            Audit?.Dispose();
            throw;
        }
    }

    // router.embedding_weight: every example is embedded now; a model that cannot do it stops the start with a reason.
    private DomainRouter EmbeddingRouter(HearthConfig config, string model)
    {
        try
        {
            return DomainRouter.CreateAsync(config, new RuntimeEmbeddingGenerator(Host, model, ModelDigest, audit: null, usage: null), _stats, config.Router.EmbeddingWeight)
                .GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is ModelUnavailableException or ArgumentException or InvalidOperationException)
        {
            throw new ModelUnavailableException($"router.embedding_weight: the domains' examples could not be embedded with '{model}' (models.embedding): {ex.Message}", ex);
        }
    }

    /// <summary>Builds the runtime for <paramref name="config"/>.</summary>
    public static HearthRuntime Create(HearthConfig config) => Create(config, null);

    internal static HearthRuntime Create(HearthConfig config, HearthRuntimeOptions? options)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new HearthRuntime(config, options ?? new HearthRuntimeOptions());
    }

    /// <summary>Loads <c>hearth.yaml</c> (from <paramref name="configPath"/>, or <c>$HEARTH_HOME/hearth.yaml</c>) and builds the runtime.</summary>
    public static HearthRuntime Load(string? configPath = null) => Create(HearthConfigLoader.Load(configPath));

    /// <summary>The configuration it was built from.</summary>
    public HearthConfig Config { get; }

    /// <summary>The whole pipeline.</summary>
    public IChatClient ChatClient { get; }

    /// <summary>The embedding model of <c>models.embedding</c>, run by the embedded engine through the model host and
    /// audited per call; null when none is configured. Loaded on first use.</summary>
    public IEmbeddingGenerator<string, Embedding<float>>? EmbeddingGenerator => _embeddings;

    /// <summary>Models loaded by the embedded engine now.</summary>
    public IReadOnlyList<LoadedModel> LoadedModels => Host.List();

    /// <summary>Connections the egress guard allowed and refused since the runtime started.</summary>
    public (long Allowed, long Refused) EgressCounts => (Guard.Counters.Allowed, Guard.Counters.Refused);

    internal DomainRouter Router { get; }

    internal ModelHost Host { get; }

    internal EgressGuard Guard { get; }

    internal AuditLog? Audit { get; }

    internal ModelStore Store { get; }

    internal UsageLedger Usage { get; }

    internal InMemoryModelStatsSource Stats => _stats;

    /// <summary>The provider and model a request with these options goes to (after routing).</summary>
    internal (string Provider, string? Model) Resolve(ChatOptions? options)
    {
        var (provider, model, _) = _dispatcher.Resolve(options);
        return (provider.Name, model);
    }

    /// <summary>Unloads an idle embedded model now.</summary>
    public bool Unload(string model) => Host.Unload(model);

    private string? ModelDigest(string model)
    {
        if (!ModelReference.TryParse(model, out _, out _))
            return null;
        try
        {
            return Store.Find(model)?.Manifest.ModelLayers.FirstOrDefault()?.Digest;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or ModelStoreException)
        {
            return null;
        }
    }

    private void OnCompleted(UsageRecord r)
    {
        if (r.Outcome == "completed" && r.OutputTokens > 0 && r.Seconds > 0)
            _stats.SetTokensPerSecond(r.Model, r.OutputTokens / r.Seconds);
    }

    private void SeedStats() => ModelStatsLoader.Load(Config, _stats);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        ChatClient.Dispose();
        _providers.Dispose();
        Host.Dispose();
        Audit?.Dispose();
    }
}

/// <summary>Registers Hearth with a Microsoft.Extensions.DependencyInjection container.</summary>
public static class HearthServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="HearthRuntime"/> for <paramref name="config"/> and its pipeline as the
    /// container's <see cref="IChatClient"/> (usable from Semantic Kernel or any Microsoft.Extensions.AI consumer), and,
    /// when <c>models.embedding</c> names one, its embedding model as the container's
    /// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.
    /// </summary>
    public static IServiceCollection AddHearth(this IServiceCollection services, HearthConfig config)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(config);
        services.AddSingleton(_ => HearthRuntime.Create(config));
        services.AddSingleton<IChatClient>(sp => new NonDisposingChatClient(sp.GetRequiredService<HearthRuntime>().ChatClient));
        if (config.Models.Embedding is not null)
        {
            // The runtime's generator is a view (its Dispose does nothing): the model host, i.e. the runtime, owns the model.
            services.AddSingleton(sp => sp.GetRequiredService<HearthRuntime>().EmbeddingGenerator!);
        }
        return services;
    }

    /// <summary>Loads <c>hearth.yaml</c> (a path, or <c>$HEARTH_HOME/hearth.yaml</c> when null) and registers Hearth.</summary>
    public static IServiceCollection AddHearth(this IServiceCollection services, string? configPath = null)
        => services.AddHearth(HearthConfigLoader.Load(configPath));

    /// <summary>The runtime owns the pipeline; the container disposes the runtime, not this view of it.</summary>
    private sealed class NonDisposingChatClient(IChatClient inner) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
            => inner.GetResponseAsync(messages, options, cancellationToken);

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
            => inner.GetStreamingResponseAsync(messages, options, cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) => inner.GetService(serviceType, serviceKey);

        public void Dispose()
        {
        }
    }
}
