using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Hearth.Configuration;
using Microsoft.Extensions.AI;

namespace Hearth.Privacy;

/// <summary>
/// Enforces Hearth's privacy policy in an <see cref="IChatClient"/> pipeline: before a request reaches the inner
/// client, the request's domain (<see cref="HearthChatOptionKeys.Domain"/>) and the provider it would reach
/// (<see cref="HearthChatOptionKeys.Provider"/>, else the inner client's <see cref="ChatClientMetadata"/>) are checked;
/// a refused request throws <see cref="PolicyRefusedException"/> and the inner client is never called.
/// </summary>
public sealed class PrivacyPolicyChatClient : DelegatingChatClient
{
    private readonly PrivacyPolicy _policy;
    private readonly AuditLog? _audit;

    /// <summary>Wraps <paramref name="innerClient"/> with the policy of <paramref name="config"/>.</summary>
    /// <param name="innerClient">The client requests go to when admitted.</param>
    /// <param name="config">The configuration whose policy applies.</param>
    public PrivacyPolicyChatClient(IChatClient innerClient, HearthConfig config)
        : this(innerClient, config, audit: null)
    {
    }

    internal PrivacyPolicyChatClient(IChatClient innerClient, HearthConfig config, AuditLog? audit)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(config);
        _policy = new PrivacyPolicy(config);
        _audit = audit;
    }

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Admit(options);
        return base.GetResponseAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);

        // Decided eagerly, before enumeration, so a refusal surfaces at the call site.
        Admit(options);
        return Stream(messages, options, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Stream(IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            yield return update;
    }

    private void Admit(ChatOptions? options)
    {
        var props = options?.AdditionalProperties;
        var domain = props is not null && props.TryGetValue(HearthChatOptionKeys.Domain, out var d) ? d as string : null;
        var provider = props is not null && props.TryGetValue(HearthChatOptionKeys.Provider, out var p) ? p as string : null;
        var metadata = InnerClient.GetService<ChatClientMetadata>();
        var decision = _policy.Decide(domain, provider ?? metadata?.ProviderName, metadata?.ProviderUri);
        var data = new JsonObject
        {
            ["decision"] = decision.Allowed ? "allowed" : "refused",
            ["provider"] = decision.Provider,
            ["external"] = decision.External,
            ["rule"] = decision.Rule,
        };
        if (domain is not null)
            data["domain"] = domain;
        _audit?.Append("policy", data);
        if (!decision.Allowed)
            throw new PolicyRefusedException(domain, decision.Provider, decision.Rule);
    }
}

/// <summary><see cref="ChatClientBuilder"/> extensions for the privacy layer.</summary>
public static class PrivacyChatClientBuilderExtensions
{
    /// <summary>Adds a <see cref="PrivacyPolicyChatClient"/> enforcing <paramref name="config"/>'s policy to the pipeline.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="config">The configuration whose policy applies.</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UsePrivacyPolicy(this ChatClientBuilder builder, HearthConfig config)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(config);
        return builder.Use(inner => new PrivacyPolicyChatClient(inner, config));
    }

    internal static ChatClientBuilder UsePrivacyPolicy(this ChatClientBuilder builder, HearthConfig config, AuditLog audit)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(config);
        return builder.Use(inner => new PrivacyPolicyChatClient(inner, config, audit));
    }
}
