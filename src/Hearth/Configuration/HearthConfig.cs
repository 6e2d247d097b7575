namespace Hearth.Configuration;

/// <summary>
/// A loaded, validated Hearth configuration (<c>hearth.yaml</c> plus environment overrides plus defaults).
/// Obtain one with <see cref="HearthConfigLoader.Load"/>; <see cref="Effective"/> tells where each value came from.
/// </summary>
public sealed record HearthConfig
{
    /// <summary>The Hearth home directory (<c>$HEARTH_HOME</c>, default <c>~/.hearth</c>).</summary>
    public required string HearthHome { get; init; }

    /// <summary>The configuration file read, or null when only defaults and environment variables apply.</summary>
    public string? SourcePath { get; init; }

    /// <summary>The <c>system</c> section.</summary>
    public SystemOptions System { get; init; } = new();

    /// <summary>The <c>models</c> section.</summary>
    public ModelsOptions Models { get; init; } = new();

    /// <summary>The <c>privacy</c> section.</summary>
    public PrivacyOptions Privacy { get; init; } = new();

    /// <summary>The <c>healthcare</c> section.</summary>
    public HealthcareOptions Healthcare { get; init; } = new();

    /// <summary>The <c>router</c> section.</summary>
    public RouterOptions Router { get; init; } = new();

    /// <summary>Configured domains by name (ordinal, lower case as written).</summary>
    public IReadOnlyDictionary<string, DomainOptions> Domains { get; init; } = new Dictionary<string, DomainOptions>(StringComparer.Ordinal);

    /// <summary>Providers by name; <c>embedded</c>, <c>ollama</c>, <c>openai</c> and <c>anthropic</c> are always present.</summary>
    public IReadOnlyDictionary<string, ProviderOptions> Providers { get; init; } = new Dictionary<string, ProviderOptions>(StringComparer.Ordinal);

    /// <summary>The <c>cost</c> section (price tables for <c>hearth cost</c>).</summary>
    public CostOptions Cost { get; init; } = new();

    /// <summary>Every effective value with its origin, in schema order.</summary>
    public IReadOnlyList<ConfigValue> Effective { get; init; } = [];

    /// <summary>The audit directory, <c>$HEARTH_HOME/audit</c>.</summary>
    public string AuditDirectory => Path.Combine(HearthHome, "audit");

    /// <summary>
    /// Every endpoint the egress guard allows: <c>privacy.allowed_endpoints</c> plus the URL of each enabled provider.
    /// </summary>
    public IReadOnlyList<Uri> EgressAllowList =>
        Privacy.AllowedEndpoints
            .Concat(Providers.Values.Where(p => p.Enabled && p.Url is not null).Select(p => p.Url!))
            .DistinctBy(u => (u.Scheme, u.IdnHost.ToUpperInvariant(), u.Port))
            .ToArray();
}
