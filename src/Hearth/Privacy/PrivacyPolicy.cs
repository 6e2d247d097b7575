using Hearth.Configuration;

namespace Hearth.Privacy;

/// <summary>Keys Hearth reads from <c>ChatOptions.AdditionalProperties</c>.</summary>
public static class HearthChatOptionKeys
{
    /// <summary>The request's domain (a key under <c>domains</c>); requests without one get the local_only policy.</summary>
    public const string Domain = "hearth.domain";

    /// <summary>The provider (a key under <c>providers</c>) the request will be sent to, set by the router.</summary>
    public const string Provider = "hearth.provider";
}

/// <summary>Thrown when the privacy policy refuses a request; nothing was sent to the provider.</summary>
public sealed class PolicyRefusedException : InvalidOperationException
{
    /// <summary>Creates the exception for a refused request.</summary>
    /// <param name="domain">The request's domain, or null.</param>
    /// <param name="provider">The provider the request would have reached.</param>
    /// <param name="rule">The rule that refused it.</param>
    public PolicyRefusedException(string? domain, string provider, string rule)
        : base($"Privacy policy refused the request{(domain is null ? "" : $" for domain '{domain}'")} to provider '{provider}': {rule}")
    {
        Domain = domain;
        Provider = provider;
        Rule = rule;
    }

    /// <summary>Creates an exception with a default message.</summary>
    public PolicyRefusedException()
        : this(null, "(unknown)", "refused")
    {
    }

    /// <summary>Creates an exception with a message only.</summary>
    /// <param name="message">The message.</param>
    public PolicyRefusedException(string message)
        : base(message)
    {
        Provider = "(unknown)";
        Rule = message;
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public PolicyRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Provider = "(unknown)";
        Rule = message;
    }

    /// <summary>The request's domain, or null when it had none.</summary>
    public string? Domain { get; }

    /// <summary>The provider the request would have reached.</summary>
    public string Provider { get; }

    /// <summary>The rule that refused the request.</summary>
    public string Rule { get; }
}

/// <summary>A policy decision with the rule that produced it.</summary>
internal sealed record PolicyDecision(bool Allowed, string? Domain, string Provider, bool External, string Rule);

/// <summary>
/// Decides whether a request of a domain may reach a provider. External providers (cloud types, or a URL whose host
/// is not loopback) are refused when: <c>system.mode</c> is local-only; <c>privacy.external_calls</c> is disabled; the
/// provider is not enabled by name; the domain is local_only (the default for every domain, and required for hipaa
/// domains); or the domain is unknown or absent. Local providers are always admitted.
/// </summary>
internal sealed class PrivacyPolicy(HearthConfig config)
{
    public HearthConfig Config { get; } = config ?? throw new ArgumentNullException(nameof(config));

    public PolicyDecision Decide(string? domain, ProviderOptions provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (!provider.IsExternal)
            return new(true, domain, provider.Name, false, "local provider");
        PolicyDecision Refuse(string rule) => new(false, domain, provider.Name, true, rule);
        if (Config.System.Mode == SystemMode.LocalOnly)
            return Refuse("system.mode is local-only: no external provider may be used");
        if (Config.Privacy.ExternalCalls == ExternalCalls.Disabled)
            return Refuse("privacy.external_calls is disabled");
        if (!Config.Providers.TryGetValue(provider.Name, out var configured) || !configured.Enabled)
            return Refuse($"external provider '{provider.Name}' is not enabled in providers.{provider.Name}.enabled");
        if (domain is null)
            return Refuse("the request names no domain; requests without a domain are local_only");
        if (!Config.Domains.TryGetValue(domain, out var d))
            return Refuse($"unknown domain '{domain}' is treated as local_only");
        if (d.ComplianceMode == ComplianceMode.Hipaa)
            return Refuse($"domain '{domain}' is in hipaa compliance mode and must stay local");
        if (d.Policy == DomainPolicy.LocalOnly)
            return Refuse($"domain '{domain}' has policy local_only");
        return new(true, domain, provider.Name, true, $"domain '{domain}' allows the cloud and provider '{provider.Name}' is enabled");
    }

    /// <summary>Identifies the provider by name, or by the endpoint a client reports, and decides.</summary>
    public PolicyDecision Decide(string? domain, string? providerName, Uri? providerUri)
    {
        if (providerName is not null && Config.Providers.TryGetValue(providerName, out var named) && (providerUri is null || SameEndpoint(named.Url, providerUri)))
            return Decide(domain, named);
        if (providerUri is not null)
        {
            var byUrl = Config.Providers.Values.FirstOrDefault(p => SameEndpoint(p.Url, providerUri));
            if (byUrl is not null)
                return Decide(domain, byUrl);
            var unknown = new ProviderOptions { Name = providerName ?? providerUri.Host, Type = ProviderType.OpenAICompatible, Url = providerUri, Enabled = false };
            return unknown.IsExternal
                ? new(false, domain, unknown.Name, true, $"external endpoint {providerUri.GetLeftPart(UriPartial.Authority)} is not a configured provider")
                : Decide(domain, unknown);
        }

        if (providerName is null or "embedded" or "hearth")
            return Decide(domain, Config.Providers["embedded"]);
        return new(false, domain, providerName, true, $"provider '{providerName}' is not configured and reports no endpoint, so where it runs cannot be established");
    }

    private static bool SameEndpoint(Uri? a, Uri b)
        => a is not null && a.Scheme.Equals(b.Scheme, StringComparison.OrdinalIgnoreCase) && a.IdnHost.Equals(b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;
}
