using System.Collections;
using Hearth.Configuration;

namespace Hearth.Tests.Configuration;

public sealed class HearthConfigTests
{
    private const string Sample = """
        system:   { mode: local-first, require_internet: false }
        models:   { cache_directory: /tmp/hearth-cache, auto_download: false, memory_budget: 8GiB, keep_alive: 5m }
        privacy:
          data_processing: local_only
          external_calls: disabled
          logging_mode: local_only
          allowed_endpoints: [ http://127.0.0.1:11434 ]
        healthcare: { compliance_mode: hipaa, data_retention: 90d, audit_trail: local_filesystem }
        router:   { weights: { content: 0.5, emotional: 0.2, speed: 0.2, quality: 0.1 } }
        domains:
          healthcare:
            model: medllama:7b
            provider: ollama
            examples: [ "my chest hurts", "dosage of ibuprofen" ]
          coding:
            model: qwen2.5-coder:1.5b
            empathetic: false
        providers:
          ollama: { url: http://127.0.0.1:11434 }
          openai: { enabled: false }
        """;

    private static (HearthConfig Config, IReadOnlyList<ConfigError> Errors) Check(string yaml, params (string, string)[] env)
    {
        var vars = new Hashtable();
        foreach (var (k, v) in env)
            vars[k] = v;
        vars["HEARTH_HOME"] = "/tmp/hearth-home-test";
        return HearthConfigLoader.CheckText(yaml, "hearth.yaml", vars);
    }

    private static ConfigError Single(IReadOnlyList<ConfigError> errors)
    {
        Assert.True(errors.Count == 1, "expected one error, got: " + string.Join(" | ", errors));
        return errors[0];
    }

    [Fact]
    public void DefaultsAreLocalFirst()
    {
        var (c, errors) = Check("");
        Assert.Empty(errors);
        Assert.Equal(SystemMode.LocalFirst, c.System.Mode);
        Assert.Equal(ExternalCalls.Disabled, c.Privacy.ExternalCalls);
        Assert.False(c.Models.AutoDownload);
        Assert.False(c.Providers["openai"].Enabled);
        Assert.False(c.Providers["anthropic"].Enabled);
        Assert.True(c.Providers["openai"].IsExternal);
        Assert.False(c.Providers["ollama"].IsExternal);
        Assert.Equal(ComplianceMode.Hipaa, c.Healthcare.ComplianceMode);
        Assert.Equal("/tmp/hearth-home-test", c.Models.CacheDirectory);
        Assert.All(c.EgressAllowList, u => Assert.True(u.IsLoopback));
        Assert.All(c.Effective, v => Assert.Equal(ConfigOriginKind.Default, v.Origin.Kind));
    }

    [Fact]
    public void EmbeddingRoutingNeedsAnEmbeddingModel()
    {
        var e = Single(Check("router: { embedding_weight: 0.4 }\n").Errors);
        Assert.Equal("router.embedding_weight", e.Key);
        Assert.Contains("models.embedding", e.Message, StringComparison.Ordinal);
        var (c, errors) = Check("models: { embedding: qwen3-embed:0.6b }\nrouter: { embedding_weight: 0.4 }\n");
        Assert.Empty(errors);
        Assert.Equal(0.4, c.Router.EmbeddingWeight);
        Assert.Equal("qwen3-embed:0.6b", c.Models.Embedding);
        Assert.Equal(0, Check("").Config.Router.EmbeddingWeight);
        Assert.Contains("embedding_weight", Single(Check("models: { embedding: e }\nrouter: { embedding_weight: 2 }\n").Errors).Key, StringComparison.Ordinal);
    }

    [Fact]
    public void SampleBindsToTypedOptionsWithLineOrigins()
    {
        var (c, errors) = Check(Sample);
        Assert.Empty(errors);
        Assert.Equal(8L << 30, c.Models.MemoryBudget);
        Assert.Equal(TimeSpan.FromMinutes(5), c.Models.KeepAlive);
        Assert.Equal(TimeSpan.FromDays(90), c.Healthcare.DataRetention);
        Assert.Equal(0.5, c.Router.Weights.Content);
        var hc = c.Domains["healthcare"];
        Assert.Equal(DomainPolicy.LocalOnly, hc.Policy);
        Assert.Equal(ComplianceMode.Hipaa, hc.ComplianceMode);
        Assert.Equal("ollama", hc.Provider);
        Assert.Equal(["my chest hurts", "dosage of ibuprofen"], hc.Examples);
        Assert.Equal(ComplianceMode.None, c.Domains["coding"].ComplianceMode);
        Assert.Equal("embedded", c.Domains["coding"].Provider);

        var budget = c.Effective.Single(v => v.Key == "models.memory_budget");
        Assert.Equal("8GiB", budget.Value);
        Assert.Equal(new ConfigOrigin(ConfigOriginKind.File, "hearth.yaml", 2), budget.Origin);
        var model = c.Effective.Single(v => v.Key == "domains.coding.model");
        Assert.Equal(16, model.Origin.Line);
        Assert.Equal(ConfigOriginKind.Default, c.Effective.Single(v => v.Key == "privacy.redact_logs").Origin.Kind);
    }

    [Fact]
    public void EnvironmentOverridesKeysAndIsNamedAsOrigin()
    {
        var (c, errors) = Check(Sample, ("HEARTH_MODELS__AUTO_DOWNLOAD", "true"), ("HEARTH_DOMAINS__CODING__EXAMPLES", "fix this, write a test"), ("HEARTH_HOME", "ignored-not-a-key"));
        Assert.Empty(errors);
        Assert.True(c.Models.AutoDownload);
        Assert.Equal(["fix this", "write a test"], c.Domains["coding"].Examples);
        var v = c.Effective.Single(x => x.Key == "models.auto_download");
        Assert.Equal(new ConfigOrigin(ConfigOriginKind.Environment, "HEARTH_MODELS__AUTO_DOWNLOAD"), v.Origin);
        Assert.Equal("env HEARTH_MODELS__AUTO_DOWNLOAD", v.Origin.ToString());
    }

    [Fact]
    public void EnvironmentErrorNamesTheVariable()
    {
        var e = Single(Check("", ("HEARTH_PRIVACY__EXTERNAL_CALLS", "sometimes")).Errors);
        Assert.Equal("privacy.external_calls", e.Key);
        Assert.Equal("env HEARTH_PRIVACY__EXTERNAL_CALLS", e.Origin.ToString());
        Assert.Contains("disabled, enabled", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownKeyIsReportedWithLine()
    {
        var e = Single(Check("models:\n  auto_download: false\n  memory_budgett: 4GiB\n").Errors);
        Assert.Equal("models.memory_budgett", e.Key);
        Assert.Equal(3, e.Origin.Line);
        Assert.Contains("unknown key", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("hearth.yaml:3: models.memory_budgett", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CostSectionBindsPriceTablesAndLocalCosts()
    {
        var (c, errors) = Check("cost:\n  hardware_price: 2400\n  lifetime_hours: 12000\n  power_watts: 90\n  kwh_price: 0.3\n  cloud_prices:\n    openai/gpt-4o: { input: 2.5, output: 10 }\n    anthropic/claude-sonnet: { input: 3, output: 15 }\n");
        Assert.Empty(errors);
        Assert.Equal(2400, c.Cost.HardwarePrice);
        Assert.Equal(12000, c.Cost.LifetimeHours);
        Assert.Equal(90, c.Cost.PowerWatts);
        Assert.Equal(0.3, c.Cost.KwhPrice);
        Assert.Equal(new CloudPrice(2.5, 10), c.Cost.CloudPrices["openai/gpt-4o"]);
        Assert.Equal(new CloudPrice(3, 15), c.Cost.CloudPrices["anthropic/claude-sonnet"]);
        Assert.Empty(Check("").Config.Cost.CloudPrices);
        Assert.Equal(1500, Check("").Config.Cost.HardwarePrice);

        var missing = Single(Check("cost:\n  cloud_prices:\n    x: { input: 1 }\n").Errors);
        Assert.Equal("cost.cloud_prices.x.output", missing.Key);
        Assert.Contains("required", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownSectionIsReported()
    {
        var e = Single(Check("system: {}\nplugins:\n  x: 1\n").Errors);
        Assert.Equal("plugins", e.Key);
        Assert.Equal(2, e.Origin.Line);
    }

    [Theory]
    [InlineData("models:\n  auto_download: maybe\n", "models.auto_download", 2, "true or false")]
    [InlineData("models:\n  memory_budget: lots\n", "models.memory_budget", 2, "size")]
    [InlineData("models:\n  memory_budget: 1MiB\n", "models.memory_budget", 2, "out of range")]
    [InlineData("cost:\n  power_watts: -5\n", "cost.power_watts", 2, "out of range")]
    [InlineData("cost:\n  kwh_price: cheap\n", "cost.kwh_price", 2, "number")]
    [InlineData("cost:\n  hardware_costs: 3\n", "cost.hardware_costs", 2, "unknown key")]
    [InlineData("cost:\n  cloud_prices:\n    openai/gpt-4o: { input: 2.5, output: lots }\n", "cost.cloud_prices.openai/gpt-4o.output", 3, "number")]
    [InlineData("cost:\n  cloud_prices:\n    x: { input: 1, output: 2, cached: 3 }\n", "cost.cloud_prices.x.cached", 3, "unknown key")]
    [InlineData("cost:\n  cloud_prices:\n    x: 5\n", "cost.cloud_prices.x", 3, "mapping")]
    [InlineData("models:\n  download_segments: 0\n", "models.download_segments", 2, "out of range")]
    [InlineData("models:\n  download_segments: 2.5\n", "models.download_segments", 2, "whole number")]
    [InlineData("models:\n  parallel_download_min_size: big\n", "models.parallel_download_min_size", 2, "size")]
    [InlineData("models:\n\n  keep_alive: 5 minutes\n", "models.keep_alive", 3, "duration")]
    [InlineData("models:\n  keep_alive: 30d\n", "models.keep_alive", 2, "out of range")]
    [InlineData("router:\n  weights:\n    speed: 1.5\n", "router.weights.speed", 3, "out of range")]
    [InlineData("router:\n  weights: [1, 2]\n", "router.weights", 2, "expected a mapping")]
    [InlineData("system:\n  mode: offline\n", "system.mode", 2, "local-only, local-first, hybrid")]
    [InlineData("privacy:\n  allowed_endpoints: [ ftp://127.0.0.1:21 ]\n", "privacy.allowed_endpoints[0]", 2, "scheme")]
    [InlineData("healthcare:\n  data_retention: 2h\n", "healthcare.data_retention", 2, "out of range")]
    [InlineData("models:\n  auto_download: [true]\n", "models.auto_download", 2, "single value")]
    public void BadValuesNameKeyAndLine(string yaml, string key, int line, string fragment)
    {
        var e = Single(Check(yaml).Errors);
        Assert.Equal(key, e.Key);
        Assert.Equal(line, e.Origin.Line);
        Assert.Equal("hearth.yaml", e.Origin.Source);
        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SyntaxErrorNamesLine()
    {
        var e = Single(Check("system:\n  mode: local-first\n models: [\n").Errors);
        Assert.Contains("YAML syntax error", e.Message, StringComparison.Ordinal);
        Assert.True(e.Origin.Line >= 3, e.ToString());
    }

    [Fact]
    public void DuplicateKeyIsAnError()
    {
        var errors = Check("system:\n  mode: hybrid\n  mode: local-only\n").Errors;
        Assert.NotEmpty(errors);
        Assert.Contains(errors, e => e.Origin.Line == 3);
    }

    [Fact]
    public void CloudProviderEnabledWhileExternalCallsDisabledIsAContradiction()
    {
        var e = Single(Check("privacy:\n  external_calls: disabled\nproviders:\n  openai:\n    enabled: true\n").Errors);
        Assert.Equal("providers.openai.enabled", e.Key);
        Assert.Equal(5, e.Origin.Line);
        Assert.Contains("hearth.yaml:2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CloudProviderEnabledWithExternalCallsEnabledIsFine()
    {
        var (c, errors) = Check("privacy:\n  external_calls: enabled\nproviders:\n  openai:\n    enabled: true\n    api_key_env: OPENAI_API_KEY\n");
        Assert.Empty(errors);
        Assert.Contains(c.EgressAllowList, u => u.Host == "api.openai.com" && u.Port == 443);
    }

    [Fact]
    public void LocalOnlyDomainRoutedToCloudIsAContradiction()
    {
        const string yaml = """
            privacy: { external_calls: enabled }
            providers:
              openai: { enabled: true }
            domains:
              legal:
                model: gpt-4o-mini
                provider: openai
            """;
        var e = Single(Check(yaml).Errors);
        Assert.Equal("domains.legal.provider", e.Key);
        Assert.Equal(7, e.Origin.Line);
        Assert.Contains("local_only", e.Message, StringComparison.Ordinal);
        Assert.Empty(Check(yaml + "\n    policy: allow_cloud\n").Errors);
    }

    [Fact]
    public void HipaaDomainMayNotAllowCloud()
    {
        var e = Single(Check("domains:\n  healthcare:\n    model: m\n    policy: allow_cloud\n").Errors);
        Assert.Equal("domains.healthcare.policy", e.Key);
        Assert.Equal(4, e.Origin.Line);
    }

    [Fact]
    public void LocalOnlyModeRefusesAnyExternalEndpoint()
    {
        var e = Single(Check("system:\n  mode: local-only\nprivacy:\n  allowed_endpoints:\n    - http://127.0.0.1:11434\n    - https://models.example.com\n").Errors);
        Assert.Equal("privacy.allowed_endpoints[1]", e.Key);
        Assert.Equal(6, e.Origin.Line);

        // Validation of configuration text only. A name under .invalid (RFC 6761) never resolves, so it stands for a
        // LAN server without being an address anything could reach.
        const string LanUrl = "http://lan-server.invalid:8000";
        var e2 = Single(Check("system: { mode: local-only }\nproviders:\n  lan:\n    type: openai_compatible\n    url: " + LanUrl + "\n").Errors);
        Assert.Equal("providers.lan.enabled", e2.Key);
    }

    [Fact]
    public void CustomProviderNeedsType()
    {
        var e = Single(Check("providers:\n  vllm:\n    url: http://127.0.0.1:8000\n").Errors);
        Assert.Equal("providers.vllm.type", e.Key);
        Assert.Equal(3, e.Origin.Line);
    }

    [Fact]
    public void DomainWithUnknownProviderIsAnError()
    {
        var e = Single(Check("domains:\n  chat:\n    model: m\n    provider: nope\n").Errors);
        Assert.Equal("domains.chat.provider", e.Key);
        Assert.Equal(4, e.Origin.Line);
    }

    [Fact]
    public void LoadUsesHearthHomeFileAndExplicitPath()
    {
        var home = Directory.CreateTempSubdirectory("hearth-cfg-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(home, "hearth.yaml"), "models:\n  keep_alive: 10m\n");
            var env = new Hashtable { ["HEARTH_HOME"] = home };
            var c = HearthConfigLoader.Load(environment: env);
            Assert.Equal(TimeSpan.FromMinutes(10), c.Models.KeepAlive);
            Assert.Equal(Path.Combine(home, "hearth.yaml"), c.SourcePath);

            var other = Path.Combine(home, "other.yaml");
            File.WriteAllText(other, "models:\n  keep_alive: 1h\n  bogus: 1\n");
            var ex = Assert.Throws<HearthConfigException>(() => HearthConfigLoader.Load(other, env));
            var e = Assert.Single(ex.Errors);
            Assert.Equal(other, e.Origin.Source);
            Assert.Equal(3, e.Origin.Line);
            Assert.Contains(other + ":3: models.bogus", ex.Message, StringComparison.Ordinal);

            var missing = Assert.Throws<HearthConfigException>(() => HearthConfigLoader.Load(Path.Combine(home, "none.yaml"), env));
            Assert.Contains("not found", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Theory]
    [InlineData("8GiB", 8L << 30)]
    [InlineData("512 MiB", 512L << 20)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("4096", 4096L)]
    public void SizesParse(string text, long expected)
    {
        Assert.True(ConfigValues.TryParseSize(text, out var b));
        Assert.Equal(expected, b);
    }

    [Theory]
    [InlineData("5m", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("250ms", 250)]
    [InlineData("0", 0)]
    [InlineData("2d", 172_800_000)]
    public void DurationsParse(string text, double ms)
    {
        Assert.True(ConfigValues.TryParseDuration(text, out var t));
        Assert.Equal(ms, t.TotalMilliseconds);
    }

    [Theory]
    [InlineData("5 minutes")]
    [InlineData("m")]
    [InlineData("")]
    [InlineData("-5m")]
    public void BadDurationsAreRejected(string text) => Assert.False(ConfigValues.TryParseDuration(text, out _));
}
