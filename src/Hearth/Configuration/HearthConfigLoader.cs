using System.Collections;

namespace Hearth.Configuration;

/// <summary>
/// Finds, reads and validates <c>hearth.yaml</c>. Lookup: the explicit path (<c>--config</c>), else
/// <c>$HEARTH_HOME/hearth.yaml</c> when it exists (<c>HEARTH_HOME</c> defaults to <c>~/.hearth</c>), else defaults only.
/// Environment variables <c>HEARTH_SECTION__KEY=value</c> override keys. Every problem is reported with its key path
/// and the file line (or environment variable) it came from.
/// </summary>
public static class HearthConfigLoader
{
    /// <summary>The configuration file name inside <c>$HEARTH_HOME</c>.</summary>
    public const string FileName = "hearth.yaml";

    /// <summary>Loads and validates the configuration; throws <see cref="HearthConfigException"/> listing every problem.</summary>
    /// <param name="configPath">Explicit file (<c>--config</c>); must exist when given. Null to use <c>$HEARTH_HOME/hearth.yaml</c>.</param>
    /// <param name="environment">Environment variables; null reads the process environment.</param>
    /// <returns>The validated configuration.</returns>
    public static HearthConfig Load(string? configPath = null, IDictionary? environment = null)
    {
        var (config, errors) = Check(configPath, environment);
        return errors.Count == 0 ? config : throw new HearthConfigException(errors);
    }

    /// <summary>Reads and validates without throwing: returns the best-effort configuration and every problem found.</summary>
    /// <param name="configPath">Explicit file; null to use <c>$HEARTH_HOME/hearth.yaml</c>.</param>
    /// <param name="environment">Environment variables; null reads the process environment.</param>
    /// <returns>The configuration (defaults where values were bad) and the errors, empty when valid.</returns>
    public static (HearthConfig Config, IReadOnlyList<ConfigError> Errors) Check(string? configPath = null, IDictionary? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariables();
        var home = ResolveHome(environment);
        var errors = new List<ConfigError>();
        string? path = null;
        MapNode root;
        if (configPath is not null)
        {
            path = Path.GetFullPath(configPath);
            if (!File.Exists(path))
            {
                errors.Add(new ConfigError("(file)", new ConfigOrigin(ConfigOriginKind.File, path, 0), "configuration file not found"));
                root = new MapNode(ConfigOrigin.Default);
            }
            else
            {
                root = ConfigTree.ParseYaml(File.ReadAllText(path), path, errors);
            }
        }
        else
        {
            var candidate = Path.Combine(home, FileName);
            if (File.Exists(candidate))
            {
                path = candidate;
                root = ConfigTree.ParseYaml(File.ReadAllText(path), path, errors);
            }
            else
            {
                root = new MapNode(ConfigOrigin.Default);
            }
        }

        return Bind(root, path, home, environment, errors);
    }

    /// <summary>Parses configuration text (for tests and <c>hearth config check</c> of a snippet).</summary>
    /// <param name="yaml">The YAML text.</param>
    /// <param name="displayPath">The name used in error messages.</param>
    /// <param name="environment">Environment variables; null means none.</param>
    /// <returns>The configuration and the errors, empty when valid.</returns>
    public static (HearthConfig Config, IReadOnlyList<ConfigError> Errors) CheckText(string yaml, string displayPath = FileName, IDictionary? environment = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        environment ??= new Hashtable();
        var errors = new List<ConfigError>();
        var root = ConfigTree.ParseYaml(yaml, displayPath, errors);
        return Bind(root, displayPath, ResolveHome(environment), environment, errors);
    }

    /// <summary>The Hearth home: <c>$HEARTH_HOME</c>, else <c>~/.hearth</c>.</summary>
    /// <param name="environment">Environment variables; null reads the process environment.</param>
    /// <returns>An absolute path.</returns>
    public static string ResolveHome(IDictionary? environment = null)
    {
        var value = environment is null ? Environment.GetEnvironmentVariable("HEARTH_HOME") : environment["HEARTH_HOME"] as string;
        return string.IsNullOrWhiteSpace(value)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".hearth")
            : Path.GetFullPath(ExpandHome(value));
    }

    private static string ExpandHome(string path)
        => path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;

    private static (HearthConfig, IReadOnlyList<ConfigError>) Bind(MapNode root, string? path, string home, IDictionary environment, List<ConfigError> errors)
    {
        ConfigTree.ApplyEnvironment(root, environment, errors);
        var ctx = new BindContext { BaseDirectory = path is null ? home : Path.GetDirectoryName(Path.GetFullPath(path)) ?? home };
        var top = new SectionReader(ctx, "", root);

        var system = BindSystem(top.Section("system"));
        var models = BindModels(top.Section("models"), home, ctx.BaseDirectory!);
        var privacy = BindPrivacy(top.Section("privacy"));
        var healthcare = BindHealthcare(top.Section("healthcare"));
        var router = BindRouter(top.Section("router"));
        if (router.EmbeddingWeight > 0 && models.Embedding is null)
            ctx.Error("router.embedding_weight", "needs models.embedding: the embedding model that embeds the examples and queries");
        var providers = BindProviders(top.Section("providers"));
        var domains = BindDomains(top.Section("domains"), healthcare);
        var cost = BindCost(top.Section("cost"));
        top.Finish();

        var config = new HearthConfig
        {
            HearthHome = home,
            SourcePath = path,
            System = system,
            Models = models,
            Privacy = privacy,
            Healthcare = healthcare,
            Router = router,
            Providers = providers,
            Domains = domains,
            Cost = cost,
            Effective = ctx.Effective,
        };
        CheckContradictions(config, ctx);
        errors.AddRange(ctx.Errors);
        return (config, errors);
    }

    private static SystemOptions BindSystem(SectionReader r)
    {
        var d = new SystemOptions();
        var o = new SystemOptions
        {
            Mode = r.Enum("mode", d.Mode, ("local-only", SystemMode.LocalOnly), ("local-first", SystemMode.LocalFirst), ("hybrid", SystemMode.Hybrid)),
            RequireInternet = r.Bool("require_internet", d.RequireInternet),
        };
        r.Finish();
        return o;
    }

    private static ModelsOptions BindModels(SectionReader r, string home, string baseDirectory)
    {
        var d = new ModelsOptions();
        var dir = r.String("cache_directory", null);
        string cache;
        if (dir is null)
        {
            cache = home;
            r.Context.Effective.RemoveAt(r.Context.Effective.Count - 1);
            r.Context.Record(r.KeyOf("cache_directory"), cache, ConfigOrigin.Default);
        }
        else
        {
            cache = Path.GetFullPath(ExpandHome(dir), baseDirectory);
        }

        var o = new ModelsOptions
        {
            CacheDirectory = cache,
            AutoDownload = r.Bool("auto_download", d.AutoDownload),
            MemoryBudget = r.Size("memory_budget", d.MemoryBudget, 64L << 20, 64L << 40),
            KeepAlive = r.Duration("keep_alive", d.KeepAlive, TimeSpan.Zero, TimeSpan.FromDays(7)),
            Default = r.String("default", d.Default),
            Embedding = r.String("embedding", d.Embedding),
            HuggingFaceUrl = r.Endpoint("huggingface_url", d.HuggingFaceUrl)!,
            OllamaRegistryUrl = r.Endpoint("ollama_registry_url", d.OllamaRegistryUrl)!,
            DownloadSegments = r.Integer("download_segments", d.DownloadSegments, 1, 32),
            ParallelDownloadMinSize = r.Size("parallel_download_min_size", d.ParallelDownloadMinSize, 0, 1L << 50),
        };
        r.Finish();
        return o;
    }

    private static CostOptions BindCost(SectionReader r)
    {
        var d = new CostOptions();
        var table = r.Section("cloud_prices");
        var prices = new Dictionary<string, CloudPrice>(StringComparer.Ordinal);
        foreach (var (name, e) in table.Entries())
        {
            foreach (var side in (string[])["input", "output"])
            {
                if (!e.Has(side))
                    r.Context.Errors.Add(new ConfigError(e.KeyOf(side), e.Map?.Origin ?? ConfigOrigin.Default, $"required: USD per 1M {side} tokens"));
            }

            prices[name] = new CloudPrice(e.Number("input", 0, 0, 1e6), e.Number("output", 0, 0, 1e6));
            e.Finish();
        }

        table.Finish();
        var o = new CostOptions
        {
            CloudPrices = prices,
            HardwarePrice = r.Number("hardware_price", d.HardwarePrice, 0, 1e9),
            LifetimeHours = r.Number("lifetime_hours", d.LifetimeHours, 1, 1e7),
            PowerWatts = r.Number("power_watts", d.PowerWatts, 0, 1e6),
            KwhPrice = r.Number("kwh_price", d.KwhPrice, 0, 1000),
            CloudEmbeddingPrice = r.Number("cloud_embedding_price", d.CloudEmbeddingPrice, 0, 1e6),
        };
        r.Finish();
        return o;
    }

    private static PrivacyOptions BindPrivacy(SectionReader r)
    {
        var d = new PrivacyOptions();
        var dataProcessing = r.Enum("data_processing", d.DataProcessing, ("local_only", DataProcessing.LocalOnly), ("external_allowed", DataProcessing.ExternalAllowed));
        var external = r.Enum("external_calls", d.ExternalCalls, ("disabled", ExternalCalls.Disabled), ("enabled", ExternalCalls.Enabled));
        var logging = r.Enum("logging_mode", d.LoggingMode, ("local_only", LoggingMode.LocalOnly), ("disabled", LoggingMode.Disabled));
        var endpoints = new List<Uri>();
        foreach (var (value, origin, key) in r.List("allowed_endpoints", d.AllowedEndpoints.Select(u => u.OriginalString).ToArray()))
        {
            if (ConfigValues.TryParseEndpoint(value, out var uri, out var problem))
                endpoints.Add(uri!);
            else
                r.Context.Errors.Add(new ConfigError(key, origin, $"invalid endpoint '{value}': {problem}"));
        }

        var o = new PrivacyOptions
        {
            DataProcessing = dataProcessing,
            ExternalCalls = external,
            LoggingMode = logging,
            AllowedEndpoints = endpoints,
            RedactLogs = r.Bool("redact_logs", d.RedactLogs),
        };
        r.Finish();
        return o;
    }

    private static HealthcareOptions BindHealthcare(SectionReader r)
    {
        var d = new HealthcareOptions();
        var compliance = r.Enum("compliance_mode", d.ComplianceMode, ("none", ComplianceMode.None), ("hipaa", ComplianceMode.Hipaa));

        // data_retention: local_only / forever (keep, on this machine, without expiry) or a duration of at least one day.
        TimeSpan? retention = null;
        var raw = r.String("data_retention", "local_only");
        var key = r.KeyOf("data_retention");
        if (raw is not null && raw is not "local_only" and not "local-only" and not "forever")
        {
            if (!ConfigValues.TryParseDuration(raw, out var t))
                r.Context.Error(key, $"expected local_only, forever or a duration such as 90d; got '{raw}'");
            else if (t < TimeSpan.FromDays(1) || t > TimeSpan.FromDays(36500))
                r.Context.Error(key, $"out of range: must be between 1d and 36500d; got '{raw}'");
            else
                retention = t;
        }

        var o = new HealthcareOptions
        {
            ComplianceMode = compliance,
            DataRetention = retention,
            AuditTrail = r.Enum("audit_trail", d.AuditTrail, ("local_filesystem", AuditTrailMode.LocalFilesystem), ("disabled", AuditTrailMode.Disabled)),
        };
        r.Finish();
        return o;
    }

    private static RouterOptions BindRouter(SectionReader r)
    {
        var w = r.Section("weights");
        var d = new RouterWeights();
        var weights = new RouterWeights
        {
            Content = w.Number("content", d.Content, 0, 1),
            Emotional = w.Number("emotional", d.Emotional, 0, 1),
            Speed = w.Number("speed", d.Speed, 0, 1),
            Quality = w.Number("quality", d.Quality, 0, 1),
        };
        w.Finish();
        if (weights.Content + weights.Emotional + weights.Speed + weights.Quality <= 0)
            r.Context.Error(w.KeyOf("content"), "router weights are all zero; at least one must be positive");
        var threshold = r.Number("confidence_threshold", RouterOptions.DefaultConfidenceThreshold, 0, 1);
        var embedding = r.Number("embedding_weight", 0, 0, 1);
        r.Finish();
        return new RouterOptions { Weights = weights, ConfidenceThreshold = threshold, EmbeddingWeight = embedding };
    }

    private static readonly (string Name, ProviderType Type, string? Url, bool Enabled)[] BuiltInProviders =
    [
        ("embedded", ProviderType.Embedded, null, true),
        ("ollama", ProviderType.Ollama, "http://127.0.0.1:11434", true),
        ("openai", ProviderType.OpenAI, "https://api.openai.com/v1", false),
        ("anthropic", ProviderType.Anthropic, "https://api.anthropic.com", false),
    ];

    private static Dictionary<string, ProviderOptions> BindProviders(SectionReader r)
    {
        var result = new Dictionary<string, ProviderOptions>(StringComparer.Ordinal);
        var configured = r.Entries().ToDictionary(e => e.Name, e => e.Reader, StringComparer.Ordinal);
        var types = new (string, ProviderType)[]
        {
            ("embedded", ProviderType.Embedded), ("ollama", ProviderType.Ollama), ("openai_compatible", ProviderType.OpenAICompatible),
            ("openai", ProviderType.OpenAI), ("anthropic", ProviderType.Anthropic),
        };
        foreach (var (name, type, url, enabled) in BuiltInProviders)
        {
            var p = configured.Remove(name, out var reader) ? reader : new SectionReader(r.Context, r.KeyOf(name), null);
            result[name] = BindProvider(p, name, type, url is null ? null : new Uri(url), enabled, types, builtIn: true);
        }

        foreach (var (name, reader) in configured)
        {
            var key = reader.KeyOf("type");
            if (!reader.Has("type"))
                r.Context.Errors.Add(new ConfigError(key, reader.Map?.Origin ?? ConfigOrigin.Default, "required for a provider that is not built in (one of openai_compatible, ollama, openai, anthropic)"));
            result[name] = BindProvider(reader, name, ProviderType.OpenAICompatible, null, enabled: true, types, builtIn: false);
        }

        return result;
    }

    private static ProviderOptions BindProvider(SectionReader p, string name, ProviderType type, Uri? url, bool enabled, (string, ProviderType)[] types, bool builtIn)
    {
        var t = builtIn ? type : p.Enum("type", type, types);
        if (builtIn && p.Has("type"))
        {
            var declared = p.Enum("type", type, types);
            if (declared != type)
                p.Context.Error(p.KeyOf("type"), $"the built-in provider '{name}' has type {types.First(x => x.Item2 == type).Item1}");
        }

        Uri? u = t == ProviderType.Embedded ? null : p.Endpoint("url", url);
        if (t != ProviderType.Embedded && u is null)
            p.Context.Error(p.KeyOf("url"), "required: the provider's base URL");
        var o = new ProviderOptions
        {
            Name = name,
            Type = t,
            Url = u,
            Enabled = p.Bool("enabled", enabled),
            ApiKeyEnvironmentVariable = t == ProviderType.Embedded ? null : p.String("api_key_env", null),
        };
        p.Finish();
        return o;
    }

    private static Dictionary<string, DomainOptions> BindDomains(SectionReader r, HealthcareOptions healthcare)
    {
        var result = new Dictionary<string, DomainOptions>(StringComparer.Ordinal);
        foreach (var (name, d) in r.Entries())
        {
            var defaultCompliance = name == "healthcare" ? healthcare.ComplianceMode : ComplianceMode.None;
            var o = new DomainOptions
            {
                Name = name,
                Description = d.String("description", null),
                Model = d.String("model", null),
                Provider = d.String("provider", "embedded")!,
                Adapter = d.String("adapter", null),
                Policy = d.Enum("policy", DomainPolicy.LocalOnly, ("local_only", DomainPolicy.LocalOnly), ("allow_cloud", DomainPolicy.AllowCloud)),
                ComplianceMode = d.Enum("compliance_mode", defaultCompliance, ("none", ComplianceMode.None), ("hipaa", ComplianceMode.Hipaa)),
                Examples = d.List("examples", []).Select(x => x.Value).ToArray(),
                Empathetic = d.Bool("empathetic", false),
            };
            d.Finish();
            result[name] = o;
        }

        r.Finish();
        return result;
    }

    private static void CheckContradictions(HearthConfig c, BindContext ctx)
    {
        var externalOrigin = ctx.OriginOf("privacy.external_calls");
        var modeOrigin = ctx.OriginOf("system.mode");

        foreach (var p in c.Providers.Values.Where(p => p.Enabled && p.IsExternal))
        {
            var key = $"providers.{p.Name}.enabled";
            if (c.System.Mode == SystemMode.LocalOnly)
                ctx.Error(key, $"provider '{p.Name}' ({p.Url}) is external but system.mode is local-only ({modeOrigin})");
            else if (c.Privacy.ExternalCalls == ExternalCalls.Disabled)
                ctx.Error(key, $"provider '{p.Name}' ({p.Url}) is external and enabled while privacy.external_calls is disabled ({externalOrigin})");
        }

        if (c.System.Mode == SystemMode.LocalOnly)
        {
            for (var i = 0; i < c.Privacy.AllowedEndpoints.Count; i++)
            {
                var u = c.Privacy.AllowedEndpoints[i];
                if (!ConfigValues.IsLoopbackHost(u.Host))
                    ctx.Error($"privacy.allowed_endpoints[{i}]", $"external endpoint {u} is not allowed when system.mode is local-only ({modeOrigin})");
            }

            if (c.Privacy.ExternalCalls == ExternalCalls.Enabled)
                ctx.Error("privacy.external_calls", $"external calls cannot be enabled when system.mode is local-only ({modeOrigin})");
            if (c.System.RequireInternet)
                ctx.Error("system.require_internet", $"cannot require the internet when system.mode is local-only ({modeOrigin})");
            if (c.Privacy.DataProcessing == DataProcessing.ExternalAllowed)
                ctx.Error("privacy.data_processing", $"external processing contradicts system.mode local-only ({modeOrigin})");
        }
        else if (c.Privacy.ExternalCalls == ExternalCalls.Disabled)
        {
            for (var i = 0; i < c.Privacy.AllowedEndpoints.Count; i++)
            {
                var u = c.Privacy.AllowedEndpoints[i];
                if (!ConfigValues.IsLoopbackHost(u.Host))
                    ctx.Error($"privacy.allowed_endpoints[{i}]", $"external endpoint {u} is listed while privacy.external_calls is disabled ({externalOrigin})");
            }

            if (c.Privacy.DataProcessing == DataProcessing.ExternalAllowed)
                ctx.Error("privacy.data_processing", $"external processing contradicts privacy.external_calls disabled ({externalOrigin})");
        }

        if (c.Healthcare.ComplianceMode == ComplianceMode.Hipaa && c.Healthcare.AuditTrail == AuditTrailMode.Disabled)
            ctx.Error("healthcare.audit_trail", $"the audit trail cannot be disabled in hipaa compliance mode ({ctx.OriginOf("healthcare.compliance_mode")})");

        foreach (var d in c.Domains.Values)
        {
            var prefix = "domains." + d.Name;
            if (!c.Providers.TryGetValue(d.Provider, out var provider))
            {
                ctx.Error(prefix + ".provider", $"unknown provider '{d.Provider}' (configured: {string.Join(", ", c.Providers.Keys.Order(StringComparer.Ordinal))})");
                continue;
            }

            if (!provider.Enabled)
                ctx.Error(prefix + ".provider", $"provider '{d.Provider}' is not enabled ({ctx.OriginOf($"providers.{d.Provider}.enabled")})");
            if (d.ComplianceMode == ComplianceMode.Hipaa && d.Policy == DomainPolicy.AllowCloud)
                ctx.Error(prefix + ".policy", "a hipaa domain must be local_only");
            if (d.Policy == DomainPolicy.LocalOnly && provider.IsExternal)
                ctx.Error(prefix + ".provider", $"domain '{d.Name}' is local_only ({ctx.OriginOf(prefix + ".policy")}) but is routed to external provider '{provider.Name}' ({provider.Url})");
            if (d.Model is null && c.Models.Default is null)
                ctx.Error(prefix + ".model", "required: no model for this domain and no models.default");
        }
    }
}
