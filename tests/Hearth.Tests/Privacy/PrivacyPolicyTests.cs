using Hearth.Configuration;
using Hearth.Privacy;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Privacy;

public sealed class PrivacyPolicyTests
{
    /// <summary>A fake chat client that records calls and reports a configurable endpoint.</summary>
    private sealed class TestChatClient(string name, Uri? uri) : IChatClient
    {
        public int Calls { get; private set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls++;
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "from " + name)));
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Calls++;
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "from " + name);
        }

        public object? GetService(Type serviceType, object? serviceKey = null)
            => serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata(name, uri) : null;

        public void Dispose()
        {
        }
    }

    private const string Hybrid = """
        system: { mode: hybrid }
        privacy: { external_calls: enabled }
        providers:
          openai: { enabled: true }
        domains:
          healthcare: { model: medllama, provider: ollama }
          marketing: { model: gpt-4o-mini, provider: openai, policy: allow_cloud }
          notes: { model: qwen3 }
        """;

    private static HearthConfig Config(string yaml)
    {
        var (c, errors) = HearthConfigLoader.CheckText(yaml);
        Assert.Empty(errors);
        return c;
    }

    private static ChatOptions For(string? domain, string? provider = null)
    {
        var o = new ChatOptions { AdditionalProperties = [] };
        if (domain is not null)
            o.AdditionalProperties[HearthChatOptionKeys.Domain] = domain;
        if (provider is not null)
            o.AdditionalProperties[HearthChatOptionKeys.Provider] = provider;
        return o;
    }

    [Fact]
    public async Task LocalOnlyDomainNeverReachesEnabledCloudProvider()
    {
        var cloud = new TestChatClient("openai", new Uri("https://api.openai.com/v1"));
        using var client = new ChatClientBuilder(cloud).UsePrivacyPolicy(Config(Hybrid)).Build();
        var ex = await Assert.ThrowsAsync<PolicyRefusedException>(() => client.GetResponseAsync("my blood test results", For("healthcare")));
        Assert.Equal("healthcare", ex.Domain);
        Assert.Equal("openai", ex.Provider);
        Assert.Contains("hipaa", ex.Rule, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PolicyRefusedException>(() => client.GetResponseAsync("todo list", For("notes")));
        await Assert.ThrowsAsync<PolicyRefusedException>(() => client.GetResponseAsync("no domain"));
        Assert.Equal(0, cloud.Calls);
    }

    [Fact]
    public async Task AllowCloudDomainReachesEnabledCloudProvider()
    {
        var cloud = new TestChatClient("openai", new Uri("https://api.openai.com/v1"));
        using var client = new ChatClientBuilder(cloud).UsePrivacyPolicy(Config(Hybrid)).Build();
        var r = await client.GetResponseAsync("a slogan", For("marketing"));
        Assert.Equal("from openai", r.Text);
        Assert.Equal(1, cloud.Calls);
    }

    [Fact]
    public async Task LocalProvidersAreAlwaysAdmitted()
    {
        var local = new TestChatClient("ollama", new Uri("http://127.0.0.1:11434"));
        using var client = new ChatClientBuilder(local).UsePrivacyPolicy(Config("system: { mode: local-only }")).Build();
        Assert.Equal("from ollama", (await client.GetResponseAsync("hi", For("healthcare"))).Text);
        var embedded = new TestChatClient("hearth", null);
        using var client2 = new ChatClientBuilder(embedded).UsePrivacyPolicy(Config("")).Build();
        Assert.Equal("from hearth", (await client2.GetResponseAsync("hi")).Text);
    }

    [Fact]
    public async Task CloudRefusedWhenExternalCallsDisabledEvenIfRouterNamesIt()
    {
        var cloud = new TestChatClient("anthropic", new Uri("https://api.anthropic.com"));
        using var client = new ChatClientBuilder(cloud).UsePrivacyPolicy(Config("")).Build();
        var ex = await Assert.ThrowsAsync<PolicyRefusedException>(() => client.GetResponseAsync("x", For("marketing", "anthropic")));
        Assert.Contains("external_calls", ex.Rule, StringComparison.Ordinal);
        Assert.Equal(0, cloud.Calls);
    }

    [Fact]
    public async Task UnknownExternalEndpointIsRefused()
    {
        var rogue = new TestChatClient("custom", new Uri("https://llm.example.com/v1"));
        using var client = new ChatClientBuilder(rogue).UsePrivacyPolicy(Config(Hybrid)).Build();
        var ex = await Assert.ThrowsAsync<PolicyRefusedException>(() => client.GetResponseAsync("x", For("marketing")));
        Assert.Contains("not a configured provider", ex.Rule, StringComparison.Ordinal);
        Assert.Equal(0, rogue.Calls);
    }

    [Fact]
    public async Task StreamingIsRefusedBeforeEnumeration()
    {
        var cloud = new TestChatClient("openai", new Uri("https://api.openai.com/v1"));
        using var client = new ChatClientBuilder(cloud).UsePrivacyPolicy(Config(Hybrid)).Build();
        Assert.Throws<PolicyRefusedException>(() => client.GetStreamingResponseAsync("x", For("healthcare")));
        var texts = new List<string>();
        await foreach (var u in client.GetStreamingResponseAsync("x", For("marketing")))
            texts.Add(u.Text);
        Assert.Equal(["from openai"], texts);
    }

    [Fact]
    public void LocalOnlyModeRefusesCloudEvenForAllowCloudDomain()
    {
        var config = Config(Hybrid) with { System = new SystemOptions { Mode = SystemMode.LocalOnly } };
        var decision = new PrivacyPolicy(config).Decide("marketing", config.Providers["openai"]);
        Assert.False(decision.Allowed);
        Assert.Contains("local-only", decision.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DecisionsAreAudited()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-policy-").FullName;
        try
        {
            using (var audit = AuditLog.Open(dir))
            {
                var cloud = new TestChatClient("openai", new Uri("https://api.openai.com/v1"));
                using var client = new ChatClientBuilder(cloud).UsePrivacyPolicy(Config(Hybrid), audit).Build();
                await client.GetResponseAsync("x", For("marketing"));
                await Assert.ThrowsAsync<PolicyRefusedException>(() => client.GetResponseAsync("x", For("healthcare")));
            }

            var text = string.Concat(Directory.EnumerateFiles(dir, "audit-*.jsonl").Select(File.ReadAllText));
            Assert.Contains("\"decision\":\"allowed\"", text, StringComparison.Ordinal);
            Assert.Contains("\"decision\":\"refused\"", text, StringComparison.Ordinal);
            Assert.True(AuditLog.Verify(dir).IsValid);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
