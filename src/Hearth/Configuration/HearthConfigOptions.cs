namespace Hearth.Configuration;

/// <summary>How much of Hearth's work may leave the machine (<c>system.mode</c>).</summary>
public enum SystemMode
{
    /// <summary><c>local-only</c>: no external endpoint may be configured at all.</summary>
    LocalOnly,

    /// <summary><c>local-first</c> (default): external endpoints only when named and enabled, and only for domains that allow the cloud.</summary>
    LocalFirst,

    /// <summary><c>hybrid</c>: like local-first, but the router may prefer an enabled cloud provider for domains that allow it.</summary>
    Hybrid,
}

/// <summary>Where request data may be processed (<c>privacy.data_processing</c>).</summary>
public enum DataProcessing
{
    /// <summary><c>local_only</c> (default): on this machine only.</summary>
    LocalOnly,

    /// <summary><c>external_allowed</c>: enabled external providers may process data.</summary>
    ExternalAllowed,
}

/// <summary>Whether outbound calls to non-local endpoints are permitted (<c>privacy.external_calls</c>).</summary>
public enum ExternalCalls
{
    /// <summary><c>disabled</c> (default): no non-loopback endpoint may be contacted.</summary>
    Disabled,

    /// <summary><c>enabled</c>: endpoints named in the configuration may be contacted.</summary>
    Enabled,
}

/// <summary>Where logs go (<c>privacy.logging_mode</c>).</summary>
public enum LoggingMode
{
    /// <summary><c>local_only</c> (default): logs stay on the local filesystem, redacted.</summary>
    LocalOnly,

    /// <summary><c>disabled</c>: no logs beyond the audit trail.</summary>
    Disabled,
}

/// <summary>Regulatory mode (<c>healthcare.compliance_mode</c>, <c>domains.*.compliance_mode</c>).</summary>
public enum ComplianceMode
{
    /// <summary><c>none</c>: no special handling.</summary>
    None,

    /// <summary><c>hipaa</c>: the audit trail holds no prompt or completion text; the domain may not use the cloud.</summary>
    Hipaa,
}

/// <summary>Where the audit trail is kept (<c>healthcare.audit_trail</c>).</summary>
public enum AuditTrailMode
{
    /// <summary><c>local_filesystem</c> (default): JSON Lines under <c>$HEARTH_HOME/audit/</c>.</summary>
    LocalFilesystem,

    /// <summary><c>disabled</c>: no audit trail (not allowed with <see cref="ComplianceMode.Hipaa"/>).</summary>
    Disabled,
}

/// <summary>Per-domain data policy (<c>domains.*.policy</c>).</summary>
public enum DomainPolicy
{
    /// <summary><c>local_only</c> (default): requests never reach an external provider.</summary>
    LocalOnly,

    /// <summary><c>allow_cloud</c>: requests may reach an enabled external provider.</summary>
    AllowCloud,
}

/// <summary>The kind of a provider (<c>providers.*.type</c>).</summary>
public enum ProviderType
{
    /// <summary>Hearth's own in-process engine; always local.</summary>
    Embedded,

    /// <summary>An Ollama server.</summary>
    Ollama,

    /// <summary>Any OpenAI-compatible server (llama.cpp server, vLLM, LM Studio...).</summary>
    OpenAICompatible,

    /// <summary>The OpenAI cloud API; always external.</summary>
    OpenAI,

    /// <summary>The Anthropic cloud API; always external.</summary>
    Anthropic,
}

/// <summary>The <c>system</c> section.</summary>
public sealed record SystemOptions
{
    /// <summary>Privacy mode; default <see cref="SystemMode.LocalFirst"/>.</summary>
    public SystemMode Mode { get; init; } = SystemMode.LocalFirst;

    /// <summary>Whether Hearth needs the internet to work; default false (contradicts local-only mode when true).</summary>
    public bool RequireInternet { get; init; }
}

/// <summary>The <c>models</c> section: the local model store and model host.</summary>
public sealed record ModelsOptions
{
    /// <summary>Store root (blobs, manifests); default <c>$HEARTH_HOME</c>.</summary>
    public string CacheDirectory { get; init; } = "";

    /// <summary>Whether a missing model may be downloaded on first use; default false (offline by default).</summary>
    public bool AutoDownload { get; init; }

    /// <summary>Bytes of memory the model host may use for loaded models; default 8 GiB.</summary>
    public long MemoryBudget { get; init; } = 8L << 30;

    /// <summary>How long an idle model stays loaded; default 5 minutes; zero unloads at once.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Model reference used when no domain matches; optional.</summary>
    public string? Default { get; init; }

    /// <summary>Embedding model (a store reference or a GGUF path) the runtime serves as its <c>IEmbeddingGenerator</c>,
    /// run by the embedded engine; optional. It must declare a pooling (<c>{arch}.pooling_type</c>), as embedding
    /// models such as Qwen3-Embedding do.</summary>
    public string? Embedding { get; init; }

    /// <summary>Base URL of the Hugging Face Hub (or a mirror) for <c>hf.co/...</c> pulls; default <c>https://huggingface.co</c>.</summary>
    public Uri HuggingFaceUrl { get; init; } = new("https://huggingface.co");

    /// <summary>Base URL of the Ollama registry (or a mirror) for <c>ollama.com/...</c> pulls; default <c>https://registry.ollama.ai</c>.</summary>
    public Uri OllamaRegistryUrl { get; init; } = new("https://registry.ollama.ai");

    /// <summary>Byte ranges downloaded at once for a large file from a server that supports ranges; default 4, 1 disables it.</summary>
    public int DownloadSegments { get; init; } = 4;

    /// <summary>Smallest file split into parallel ranges; default 64 MiB.</summary>
    public long ParallelDownloadMinSize { get; init; } = 64L << 20;
}

/// <summary>The <c>privacy</c> section.</summary>
public sealed record PrivacyOptions
{
    /// <summary>Where data may be processed; default <see cref="DataProcessing.LocalOnly"/>.</summary>
    public DataProcessing DataProcessing { get; init; } = DataProcessing.LocalOnly;

    /// <summary>Whether non-local endpoints may be contacted; default <see cref="ExternalCalls.Disabled"/>.</summary>
    public ExternalCalls ExternalCalls { get; init; } = ExternalCalls.Disabled;

    /// <summary>Where logs go; default <see cref="LoggingMode.LocalOnly"/>.</summary>
    public LoggingMode LoggingMode { get; init; } = LoggingMode.LocalOnly;

    /// <summary>Endpoints (scheme, host, port) Hearth may connect to, besides the URLs of enabled providers; default <c>http://127.0.0.1:11434</c>.</summary>
    public IReadOnlyList<Uri> AllowedEndpoints { get; init; } = [new Uri("http://127.0.0.1:11434")];

    /// <summary>Whether log text passes through the PHI redactor; default true.</summary>
    public bool RedactLogs { get; init; } = true;
}

/// <summary>The <c>healthcare</c> section.</summary>
public sealed record HealthcareOptions
{
    /// <summary>Compliance mode of the <c>healthcare</c> domain and the audit trail; default <see cref="ComplianceMode.Hipaa"/>.</summary>
    public ComplianceMode ComplianceMode { get; init; } = ComplianceMode.Hipaa;

    /// <summary>How long audit segments are kept; null (<c>local_only</c>, the default) keeps them on this machine without expiry.</summary>
    public TimeSpan? DataRetention { get; init; }

    /// <summary>Where the audit trail is kept; default <see cref="AuditTrailMode.LocalFilesystem"/>.</summary>
    public AuditTrailMode AuditTrail { get; init; } = AuditTrailMode.LocalFilesystem;
}

/// <summary>Weights the router combines candidate scores with (<c>router.weights</c>); each in [0, 1].</summary>
public sealed record RouterWeights
{
    /// <summary>Similarity of the query to the domain's examples; default 0.4.</summary>
    public double Content { get; init; } = 0.4;

    /// <summary>Emotional cues (distress, urgency) matched to empathetic models; default 0.3.</summary>
    public double Emotional { get; init; } = 0.3;

    /// <summary>Measured tokens/s of the model on this machine; default 0.2.</summary>
    public double Speed { get; init; } = 0.2;

    /// <summary>Stored evaluation score of the model; default 0.1.</summary>
    public double Quality { get; init; } = 0.1;
}

/// <summary>The <c>router</c> section.</summary>
public sealed record RouterOptions
{
    /// <summary>Score weights.</summary>
    public RouterWeights Weights { get; init; } = new();

    /// <summary>
    /// Content similarity (in [0, 1]) the best domain must reach; below it the query goes to the fallback domain
    /// <c>general</c> (<c>router.confidence_threshold</c>); default <see cref="DefaultConfidenceThreshold"/>.
    /// </summary>
    public double ConfidenceThreshold { get; init; } = DefaultConfidenceThreshold;

    /// <summary>The default <see cref="ConfidenceThreshold"/>, measured on the router evaluation set (README, "Domain router").</summary>
    public const double DefaultConfidenceThreshold = 0.1;

    /// <summary>Share of embedding similarity (the query's cosine with each domain's nearest example, embedded by
    /// <c>models.embedding</c>) in the content similarity, in [0, 1] (<c>router.embedding_weight</c>); default 0,
    /// lexical only. Above 0 it needs <c>models.embedding</c>; the examples are embedded once when the router is built.</summary>
    public double EmbeddingWeight { get; init; }
}

/// <summary>One entry of <c>domains</c>: a kind of request, the model that serves it and its data policy.</summary>
public sealed record DomainOptions
{
    /// <summary>The domain's name (its key under <c>domains</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Free-text description, also used by the router.</summary>
    public string? Description { get; init; }

    /// <summary>Model reference served for this domain; null uses <c>models.default</c>.</summary>
    public string? Model { get; init; }

    /// <summary>Name of the provider (key under <c>providers</c>) that runs <see cref="Model"/>; default <c>embedded</c>.</summary>
    public string Provider { get; init; } = "embedded";

    /// <summary>Optional LoRA adapter reference.</summary>
    public string? Adapter { get; init; }

    /// <summary>Data policy; default <see cref="DomainPolicy.LocalOnly"/>.</summary>
    public DomainPolicy Policy { get; init; } = DomainPolicy.LocalOnly;

    /// <summary>Compliance mode; the <c>healthcare</c> domain defaults to <c>healthcare.compliance_mode</c>, others to none.</summary>
    public ComplianceMode ComplianceMode { get; init; } = ComplianceMode.None;

    /// <summary>Example queries the router compares requests with.</summary>
    public IReadOnlyList<string> Examples { get; init; } = [];

    /// <summary>Whether the model is suited to distressed or emotional users; default false.</summary>
    public bool Empathetic { get; init; }
}

/// <summary>One entry of <c>providers</c>.</summary>
public sealed record ProviderOptions
{
    /// <summary>The provider's name (its key under <c>providers</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Provider kind; known names (<c>embedded</c>, <c>ollama</c>, <c>openai</c>, <c>anthropic</c>) imply it.</summary>
    public ProviderType Type { get; init; }

    /// <summary>Base URL; null for the embedded engine.</summary>
    public Uri? Url { get; init; }

    /// <summary>Whether the provider may be used. Cloud providers default to false.</summary>
    public bool Enabled { get; init; }

    /// <summary>Name of the environment variable holding the API key (never the key itself).</summary>
    public string? ApiKeyEnvironmentVariable { get; init; }

    /// <summary>True when requests to this provider leave the machine: a cloud type, or a URL whose host is not loopback.</summary>
    public bool IsExternal => Type is ProviderType.OpenAI or ProviderType.Anthropic || (Url is not null && !EndpointRules.IsLoopbackHost(Url.Host));
}

/// <summary>
/// The <c>cost</c> section: what <c>hearth cost</c> compares local traffic against. Cloud price tables per provider/model
/// (USD per 1M input/output tokens) and the local machine's price, lifetime, power draw and electricity price.
/// Command-line options of <c>hearth cost</c> override these.
/// </summary>
public sealed record CostOptions
{
    /// <summary>Cloud price tables by provider/model name (e.g. <c>openai/gpt-4o</c>); empty means the built-in list prices.</summary>
    public IReadOnlyDictionary<string, CloudPrice> CloudPrices { get; init; } = new Dictionary<string, CloudPrice>(StringComparer.Ordinal);

    /// <summary>What the machine cost (USD); default 1500.</summary>
    public double HardwarePrice { get; init; } = 1500;

    /// <summary>Hours of use the hardware is written off over; default 8760 (3 years of 8 h days).</summary>
    public double LifetimeHours { get; init; } = 3 * 365 * 8;

    /// <summary>Power draw while generating (W); default 65.</summary>
    public double PowerWatts { get; init; } = 65;

    /// <summary>Electricity price (USD per kWh); default 0.20.</summary>
    public double KwhPrice { get; init; } = 0.20;

    /// <summary>
    /// What a cloud embedding API charges, USD per 1M input tokens, for the embedding calls in the usage ledger;
    /// default 0.02 (OpenAI text-embedding-3-small's list price).
    /// </summary>
    public double CloudEmbeddingPrice { get; init; } = 0.02;
}

/// <summary>A cloud price: USD per 1M input tokens and per 1M output tokens.</summary>
/// <param name="Input">USD per 1M input (prompt) tokens.</param>
/// <param name="Output">USD per 1M output (completion) tokens.</param>
public sealed record CloudPrice(double Input, double Output);
