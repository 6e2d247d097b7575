using System.Runtime.CompilerServices;
using Hearth.Privacy;
using Microsoft.Extensions.AI;

namespace Hearth.Routing;

/// <summary>Keys the router writes to <c>ChatOptions.AdditionalProperties</c> and response <c>AdditionalProperties</c>.</summary>
public static class RoutingChatOptionKeys
{
    /// <summary>The <see cref="RouteDecision"/> for the request (on the options passed inward and on the response).</summary>
    public const string Decision = "hearth.route";
}

/// <summary>
/// Routes each request with a <see cref="DomainRouter"/> before it goes further down the pipeline: the last user
/// message is the query (earlier user messages are the context); the decision sets <see cref="HearthChatOptionKeys.Domain"/>,
/// <see cref="HearthChatOptionKeys.Provider"/> and <see cref="ChatOptions.ModelId"/> (when the caller set none) on a copy of
/// the options, and is recorded under <see cref="RoutingChatOptionKeys.Decision"/> on those options and on the response
/// (for streaming, on the first update) so callers can show it. A request that already names a domain or a provider is
/// not re-routed. In <c>HearthRuntime</c> the policy admits the request before routing and the provider dispatcher
/// checks the routed domain and provider again.
/// </summary>
public sealed class DomainRoutingChatClient : DelegatingChatClient
{
    private readonly DomainRouter _router;

    /// <summary>Wraps <paramref name="innerClient"/> with routing by <paramref name="router"/>.</summary>
    /// <param name="innerClient">The client requests continue to.</param>
    /// <param name="router">The router.</param>
    public DomainRoutingChatClient(IChatClient innerClient, DomainRouter router)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(router);
        _router = router;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var (routed, decision) = await RouteAsync(list, options, cancellationToken).ConfigureAwait(false);
        var response = await base.GetResponseAsync(list, routed, cancellationToken).ConfigureAwait(false);
        if (decision is not null)
            (response.AdditionalProperties ??= [])[RoutingChatOptionKeys.Decision] = decision;
        return response;
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Stream(messages as IReadOnlyList<ChatMessage> ?? [.. messages], options, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Stream(IReadOnlyList<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (routed, decision) = await RouteAsync(messages, options, cancellationToken).ConfigureAwait(false);
        var first = true;
        await foreach (var update in base.GetStreamingResponseAsync(messages, routed, cancellationToken).ConfigureAwait(false))
        {
            if (first && decision is not null)
                (update.AdditionalProperties ??= [])[RoutingChatOptionKeys.Decision] = decision;
            first = false;
            yield return update;
        }
    }

    private async Task<(ChatOptions? Options, RouteDecision? Decision)> RouteAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        if (options?.AdditionalProperties?.TryGetValue(HearthChatOptionKeys.Domain, out var explicitDomain) == true && explicitDomain is string)
            return (options, null);
        // A caller that names the provider (and so the model it serves) has chosen where the request goes.
        if (options?.AdditionalProperties?.TryGetValue(HearthChatOptionKeys.Provider, out var explicitProvider) == true && explicitProvider is string)
            return (options, null);
        string? query = null;
        var context = new List<string>(2);
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role != ChatRole.User)
                continue;
            var text = messages[i].Text;
            if (query is null)
                query = text;
            else if (context.Count < 2)
                context.Insert(0, text);
            else
                break;
        }

        if (query is null)
            return (options, null);
        var decision = await _router.RouteAsync(query, context.Count == 0 ? null : string.Join("\n", context), cancellationToken).ConfigureAwait(false);

        // A copy: the caller's options object may be shared between concurrent requests.
        var routed = options?.Clone() ?? new ChatOptions();
        var props = new AdditionalPropertiesDictionary();
        if (options?.AdditionalProperties is { } existing)
        {
            foreach (var kv in existing)
                props[kv.Key] = kv.Value;
        }

        props[HearthChatOptionKeys.Domain] = decision.Domain;
        props[HearthChatOptionKeys.Provider] = decision.Provider;
        props[RoutingChatOptionKeys.Decision] = decision;
        routed.AdditionalProperties = props;
        if (routed.ModelId is null && decision.Model is not null)
            routed.ModelId = decision.Model;
        return (routed, decision);
    }
}

/// <summary><see cref="ChatClientBuilder"/> extensions for the router.</summary>
public static class RoutingChatClientBuilderExtensions
{
    /// <summary>Adds a <see cref="DomainRoutingChatClient"/> using <paramref name="router"/> to the pipeline.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="router">The router, built once (e.g. <see cref="DomainRouter.Create"/>).</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UseRouting(this ChatClientBuilder builder, DomainRouter router)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(router);
        return builder.Use(inner => new DomainRoutingChatClient(inner, router));
    }
}
