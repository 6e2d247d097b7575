using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Anthropic;
using Hearth.Configuration;
using Hearth.Engine.Generation;
using Hearth.Privacy;
using Microsoft.Extensions.AI;
using OllamaSharp;
using OpenAI;

namespace Hearth.Runtime;

/// <summary>Keys the runtime reads from <see cref="ChatOptions.AdditionalProperties"/>.</summary>
public static class RuntimeChatOptionKeys
{
    /// <summary>A <see cref="TimeSpan"/>: how long the model stays loaded after this request (0 = unload, negative = pin).</summary>
    public const string KeepAlive = "hearth.keep_alive";

    /// <summary>Set on responses: the provider that answered.</summary>
    public const string AnsweredBy = "hearth.answered_by";
}

/// <summary>The embedded engine as a provider: each request leases its model from the <see cref="ModelHost"/>.</summary>
internal sealed class EmbeddedProvider(ModelHost host, string? defaultModel, IReadOnlyDictionary<string, DomainOptions>? domains = null) : IChatClient
{
    public ChatClientMetadata Metadata { get; } = new("embedded", defaultModelId: defaultModel);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var lease = await AcquireAsync(options, cancellationToken).ConfigureAwait(false);
        var response = await lease.Client.GetResponseAsync(messages, WithAdapter(lease.Client, options), cancellationToken).ConfigureAwait(false);
        // The name the model was asked for (a store reference), not the file's general.name.
        response.ModelId = lease.Plan.Name;
        return response;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var lease = await AcquireAsync(options, cancellationToken).ConfigureAwait(false);
        await foreach (var update in lease.Client.GetStreamingResponseAsync(messages, WithAdapter(lease.Client, options), cancellationToken).ConfigureAwait(false))
        {
            update.ModelId = lease.Plan.Name;
            yield return update;
        }
    }

    /// <summary>
    /// The LoRA adapter for the request's domain, as engine options: the domain's configured <c>adapter</c>, else — when
    /// the model is a bundle carrying an adapter named after the domain — that one. One loaded bundle thus answers every
    /// domain with its own adapter, switched per request without a reload. A caller's explicit choice wins.
    /// </summary>
    internal ChatOptions? WithAdapter(IChatClient client, ChatOptions? options)
    {
        var props = options?.AdditionalProperties;
        if (props is null || props.ContainsKey(EngineChatOptionKeys.Adapter))
            return options;
        if (!props.TryGetValue(HearthChatOptionKeys.Domain, out var d) || d is not string domain)
            return options;
        var adapter = domains is not null && domains.TryGetValue(domain, out var o) ? o.Adapter : null;
        if (adapter is null && client is EngineChatClient engine && engine.AdapterNames.Contains(domain))
            adapter = domain;
        if (adapter is null)
            return options;
        var copy = options!.Clone();
        copy.AdditionalProperties = new AdditionalPropertiesDictionary(props) { [EngineChatOptionKeys.Adapter] = adapter };
        return copy;
    }

    private Task<ModelHost.ModelLease> AcquireAsync(ChatOptions? options, CancellationToken cancellationToken)
    {
        var model = options?.ModelId ?? defaultModel
            ?? throw new ModelUnavailableException("no model named: the request names none, its domain has no model and models.default is not set");
        TimeSpan? keepAlive = options?.AdditionalProperties?.TryGetValue(RuntimeChatOptionKeys.KeepAlive, out var k) == true && k is TimeSpan t ? t : null;
        return host.AcquireAsync(model, keepAlive, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(ChatClientMetadata))
            return Metadata;
        if (serviceType == typeof(ModelHost))
            return host;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Builds one <see cref="IChatClient"/> per configured provider, every HTTP one over an <see cref="HttpClient"/>
/// from <see cref="HearthHttp"/> so that the egress guard sees each connection. Clients bound to a model (OpenAI,
/// Anthropic SDKs) are cached per model.
/// </summary>
internal sealed class ProviderRegistry : IDisposable
{
    private readonly HearthConfig _config;
    private readonly EgressGuard _guard;
    private readonly IChatClient _embedded;
    private readonly Func<string, string?> _environment;
    private readonly ConcurrentDictionary<(string Provider, string Model), IChatClient> _clients = new();
    private readonly ConcurrentDictionary<string, HttpClient> _http = new(StringComparer.Ordinal);

    public ProviderRegistry(HearthConfig config, EgressGuard guard, IChatClient embedded, Func<string, string?>? environment = null)
    {
        _config = config;
        _guard = guard;
        _embedded = embedded;
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>The client for <paramref name="provider"/> serving <paramref name="model"/>.</summary>
    public IChatClient Get(ProviderOptions provider, string? model)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (provider.Type == ProviderType.Embedded)
            return _embedded;
        if (model is null)
            throw new ModelUnavailableException($"provider '{provider.Name}' needs a model name: set the domain's model or name one in the request");
        return _clients.GetOrAdd((provider.Name, model), key => Create(provider, key.Model));
    }

    private IChatClient Create(ProviderOptions provider, string model)
    {
        var url = provider.Url ?? throw new InvalidOperationException($"providers.{provider.Name}.url is not set");
        var http = _http.GetOrAdd(provider.Name, _ => HearthHttp.CreateClient(_guard, Timeout.InfiniteTimeSpan));
        switch (provider.Type)
        {
            case ProviderType.Ollama:
                http.BaseAddress ??= url;
                return new OllamaApiClient(http, model);
            case ProviderType.OpenAICompatible:
            case ProviderType.OpenAI:
            {
                var key = ApiKey(provider) ?? (provider.Type == ProviderType.OpenAI
                    ? throw new InvalidOperationException($"provider '{provider.Name}' needs an API key in ${provider.ApiKeyEnvironmentVariable ?? "OPENAI_API_KEY"}")
                    : "not-needed");
                var options = new OpenAIClientOptions { Endpoint = OpenAIEndpoint(url), Transport = new HttpClientPipelineTransport(http), RetryPolicy = new ClientRetryPolicy(0) };
                return new OpenAIClient(new ApiKeyCredential(key), options).GetChatClient(model).AsIChatClient();
            }

            case ProviderType.Anthropic:
            {
                var key = ApiKey(provider) ?? throw new InvalidOperationException($"provider '{provider.Name}' needs an API key in ${provider.ApiKeyEnvironmentVariable ?? "ANTHROPIC_API_KEY"}");
                var client = new AnthropicClient { ApiKey = key, BaseUrl = url.ToString().TrimEnd('/'), HttpClient = http, MaxRetries = 0 };
                return client.AsIChatClient(model);
            }

            default:
                throw new InvalidOperationException($"provider '{provider.Name}' has type {provider.Type}, which has no HTTP client");
        }
    }

    /// <summary>OpenAI-style servers take paths under <c>/v1</c>; a bare host URL gets it appended.</summary>
    internal static Uri OpenAIEndpoint(Uri url) => url.AbsolutePath is "" or "/" ? new Uri(url, "/v1") : url;

    private string? ApiKey(ProviderOptions provider)
    {
        var variable = provider.ApiKeyEnvironmentVariable ?? provider.Type switch
        {
            ProviderType.OpenAI => "OPENAI_API_KEY",
            ProviderType.Anthropic => "ANTHROPIC_API_KEY",
            _ => null,
        };
        var value = variable is null ? null : _environment(variable);
        return string.IsNullOrEmpty(value) ? null : value;
    }

    public void Dispose()
    {
        foreach (var c in _clients.Values)
            c.Dispose();
        foreach (var h in _http.Values)
            h.Dispose();
    }
}

/// <summary>
/// The bottom of the pipeline: sends the request to the provider its domain (or the request) names, after checking
/// the policy once more for that exact pairing, so that no route can reach a provider the policy would refuse.
/// </summary>
internal sealed class ProviderDispatcher(HearthConfig config, ProviderRegistry registry) : IChatClient
{
    private readonly PrivacyPolicy _policy = new(config);

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (client, routed) = Select(options);
        return client.GetResponseAsync(messages, routed, cancellationToken);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (client, routed) = Select(options);
        return client.GetStreamingResponseAsync(messages, routed, cancellationToken);
    }

    /// <summary>The provider and model a request goes to.</summary>
    internal (ProviderOptions Provider, string? Model, string? Domain) Resolve(ChatOptions? options)
    {
        var props = options?.AdditionalProperties;
        var domain = props?.TryGetValue(HearthChatOptionKeys.Domain, out var d) == true ? d as string : null;
        var providerName = props?.TryGetValue(HearthChatOptionKeys.Provider, out var p) == true ? p as string : null;
        var decision = props?.TryGetValue(Routing.RoutingChatOptionKeys.Decision, out var r) == true ? r as Routing.RouteDecision : null;
        DomainOptions? domainOptions = null;
        // A routed domain may be one of the built-in defaults (no domains configured) or the fallback: the decision
        // names its provider and model. A domain the caller names must be configured.
        if (domain is not null && !config.Domains.TryGetValue(domain, out domainOptions) && decision?.Domain != domain)
            throw new ModelUnavailableException($"unknown domain '{domain}'; configured domains: {string.Join(", ", config.Domains.Keys)}");
        providerName ??= domainOptions?.Provider ?? decision?.Provider ?? "embedded";
        if (!config.Providers.TryGetValue(providerName, out var provider))
            throw new ModelUnavailableException($"unknown provider '{providerName}'; configured providers: {string.Join(", ", config.Providers.Keys)}");
        var model = options?.ModelId ?? domainOptions?.Model ?? config.Models.Default;
        return (provider, model, domain);
    }

    private (IChatClient Client, ChatOptions? Options) Select(ChatOptions? options)
    {
        var (provider, model, domain) = Resolve(options);
        if (!provider.Enabled)
            throw new PolicyRefusedException(domain, provider.Name, $"provider '{provider.Name}' is not enabled (providers.{provider.Name}.enabled)");
        var decision = _policy.Decide(domain, provider);
        if (!decision.Allowed)
            throw new PolicyRefusedException(domain, provider.Name, decision.Rule);
        var routed = options?.Clone() ?? new ChatOptions();
        routed.ModelId = model;
        (routed.AdditionalProperties ??= [])[RuntimeChatOptionKeys.AnsweredBy] = provider.Name;
        return (registry.Get(provider, model), routed);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType == typeof(ChatClientMetadata))
            return new ChatClientMetadata("hearth");
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
    }
}
