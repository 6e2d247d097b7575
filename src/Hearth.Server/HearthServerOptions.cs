namespace Hearth.Server;

/// <summary>How <c>hearth serve</c> listens and what it allows. The defaults are the safe ones.</summary>
public sealed record HearthServerOptions
{
    /// <summary>Address to bind; a non-loopback one is refused unless <see cref="ApiKeys"/> is non-empty.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = 11435;

    /// <summary>Accepted API keys (<c>Authorization: Bearer</c> or <c>x-api-key</c>); empty = no authentication (loopback only).</summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];

    /// <summary>Host header values accepted besides localhost, 127.0.0.1, [::1] and the bound host (DNS-rebinding defence).</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Origins allowed by CORS; empty = CORS off.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// <summary>Largest request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 << 20;

    /// <summary>Most tokens one request may ask to generate.</summary>
    public int MaxTokens { get; init; } = 4096;

    /// <summary>Tokens generated when a request names no limit.</summary>
    public int DefaultMaxTokens { get; init; } = 512;

    /// <summary>Generations running at once.</summary>
    public int ParallelSlots { get; init; } = 1;

    /// <summary>Requests allowed to wait for a slot; one more gets 429 with Retry-After.</summary>
    public int QueueLength { get; init; } = 16;

    /// <summary>Allow <c>/api/pull</c> and <c>/api/delete</c>.</summary>
    public bool AllowStoreChanges { get; init; } = true;

    /// <summary>Whether the local chat page is served at <c>/chat</c> (and a browser opening <c>/</c> is sent there).</summary>
    public bool WebChat { get; init; } = true;
}
