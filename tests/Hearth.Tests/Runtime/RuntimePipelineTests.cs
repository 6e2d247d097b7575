using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Routing;
using Hearth.Runtime;
using Hearth.Tests.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Hearth.Tests.Runtime;

public sealed class RuntimePipelineTests : RuntimeTestBase
{
    private const string Domains = """
        models: { default: general-model }
        domains:
          healthcare:
            model: med-model
            examples: [ "my patient has chest pain and shortness of breath", "dosage of metformin for type 2 diabetes", "symptoms of a stroke" ]
          code:
            model: code-model
            examples: [ "fix this null reference exception in my C# code", "write a python function to sort a list", "why does my build fail" ]
        """;

    private static readonly Dictionary<string, long> Sizes = new() { ["general-model"] = 1 << 20, ["med-model"] = 1 << 20, ["code-model"] = 1 << 20 };

    [Fact]
    public async Task Routes_to_the_domain_model_audits_and_records_usage()
    {
        var loader = new FakeLoader(Sizes);
        using var rt = HearthRuntime.Create(Config(Domains), new HearthRuntimeOptions { Loader = loader, Sweeper = false });
        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "what is the usual dosage of metformin for diabetes")]);
        Assert.Equal("echo: what is the usual dosage of metformin for diabetes", r.Text);
        Assert.Equal("med-model", r.ModelId);
        var decision = Assert.IsType<RouteDecision>(r.AdditionalProperties![RoutingChatOptionKeys.Decision]);
        Assert.Equal("healthcare", decision.Domain);
        Assert.Equal(["med-model"], rt.LoadedModels.Select(m => m.Name));

        var request = Assert.Single(AuditEntries("request"));
        Assert.Equal("healthcare", (string?)request["domain"]);
        Assert.Equal("embedded", (string?)request["provider"]);
        Assert.Equal("completed", (string?)request["decision"]);
        Assert.Equal(3, (int?)request["input_tokens"]);
        // HIPAA mode (the default): digests and sizes, never the text.
        Assert.Null(request["prompt"]!["text"]);
        Assert.NotNull(request["prompt"]!["digest"]);
        Assert.Equal("allowed", (string?)Assert.Single(AuditEntries("policy"))["decision"]);

        var usage = Assert.Single(rt.Usage.Read());
        Assert.Equal(("embedded", "med-model", "healthcare", 3, 2, "completed"), (usage.Provider, usage.Model, usage.Domain, usage.InputTokens, usage.OutputTokens, usage.Outcome));
        Assert.True(AuditLog.Verify(Path.Combine(Home, "audit")).Problem is null);
    }

    [Fact]
    public async Task A_refused_request_never_reaches_routing_or_a_provider_and_is_audited()
    {
        var loader = new FakeLoader(Sizes);
        var yaml = Domains + "\nsystem: { mode: local-only }\n";
        using var rt = HearthRuntime.Create(Config(yaml), new HearthRuntimeOptions { Loader = loader, Sweeper = false });
        var options = new ChatOptions { AdditionalProperties = new() { [HearthChatOptionKeys.Domain] = "healthcare", [HearthChatOptionKeys.Provider] = "openai" } };
        var ex = await Assert.ThrowsAsync<PolicyRefusedException>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "symptoms of a stroke")], options));
        Assert.Contains("local-only", ex.Message, StringComparison.Ordinal);
        Assert.Throws<PolicyRefusedException>(() => rt.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")], options));

        Assert.Equal(0, loader.Loads);
        Assert.Empty(AuditEntries("request")); // never reached the audit stage below the router
        var refusals = AuditEntries("policy");
        Assert.Equal(2, refusals.Count);
        Assert.All(refusals, p => Assert.Equal("refused", (string?)p["decision"]));
        Assert.Empty(rt.Usage.Read());
    }

    [Fact]
    public async Task A_route_to_a_disabled_or_cloud_provider_is_refused_below_the_router_too()
    {
        // The loader refuses such a configuration; a config built in code can still hold one, and the dispatcher
        // below the router checks the pairing again.
        var valid = Config("models: { default: general-model }");
        var legal = new DomainOptions { Name = "legal", Model = "gpt-x", Provider = "openai", Policy = DomainPolicy.AllowCloud, Examples = ["review this contract clause", "is this lease agreement enforceable"] };
        var config = valid with { Domains = new Dictionary<string, DomainOptions> { ["legal"] = legal } };
        var loader = new FakeLoader(Sizes);
        using var rt = HearthRuntime.Create(config, new HearthRuntimeOptions { Loader = loader, Sweeper = false });
        var options = new ChatOptions { AdditionalProperties = new() { [HearthChatOptionKeys.Domain] = "legal" } };
        var ex = await Assert.ThrowsAsync<PolicyRefusedException>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "is this lease agreement enforceable in my state")], options));
        Assert.Equal("openai", ex.Provider);
        Assert.Equal(0, loader.Loads);
        Assert.Equal(0, rt.EgressCounts.Allowed);
        var request = Assert.Single(AuditEntries("request"));
        Assert.StartsWith("failed: PolicyRefusedException", (string?)request["decision"], StringComparison.Ordinal);
        Assert.Equal("openai", (string?)request["provider"]);
    }

    [Fact]
    public async Task Streaming_goes_through_every_stage_and_keep_alive_zero_unloads_after()
    {
        var loader = new FakeLoader(Sizes);
        using var rt = HearthRuntime.Create(Config(Domains), new HearthRuntimeOptions { Loader = loader, Sweeper = false });
        var options = new ChatOptions { AdditionalProperties = new() { [HearthChatOptionKeys.Domain] = "code", [RuntimeChatOptionKeys.KeepAlive] = TimeSpan.Zero } };
        var text = "";
        await foreach (var u in rt.ChatClient.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hello")], options))
            text += u.Text;
        Assert.Equal("echo: hello", text);
        Assert.Empty(rt.LoadedModels);
        Assert.Equal(["code-model"], loader.Disposed);
        var request = Assert.Single(AuditEntries("request"));
        Assert.Equal("code", (string?)request["domain"]);
        Assert.Equal("explicit", (string?)request["route"]);
        Assert.Equal(2, (int?)request["output_tokens"]);
    }

    [Fact]
    public async Task A_missing_model_fails_with_the_pull_command_and_is_audited_as_failed()
    {
        using var rt = HearthRuntime.Create(Config("models: { default: stories:260k }"), new HearthRuntimeOptions { Sweeper = false });
        var ex = await Assert.ThrowsAsync<ModelUnavailableException>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")]));
        Assert.Contains("hearth pull", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("failed: ModelUnavailableException", (string?)Assert.Single(AuditEntries("request"))["decision"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddHearth_registers_the_pipeline_as_the_containers_chat_client_with_the_real_engine()
    {
        var yaml = $"models: {{ default: '{Fixtures.Stories260K}' }}\nhealthcare: {{ compliance_mode: none }}\n";
        var services = new ServiceCollection().AddHearth(Config(yaml));
        await using (var provider = services.BuildServiceProvider())
        {
            var client = provider.GetRequiredService<IChatClient>();
            var r = await client.GetResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 6, Temperature = 0 });
            Assert.False(string.IsNullOrWhiteSpace(r.Text));
            var runtime = provider.GetRequiredService<HearthRuntime>();
            Assert.Single(runtime.LoadedModels);
            // Outside HIPAA mode the audit keeps the (redacted) text.
            Assert.Equal("Once upon a time", (string?)Assert.Single(AuditEntries("request"))["prompt"]!["text"]);
            Assert.NotNull(runtime.Stats.GetTokensPerSecond(Fixtures.Stories260K));
        }

        // Disposing the container disposed the runtime and closed the audit trail: it verifies.
        Assert.Null(AuditLog.Verify(Path.Combine(Home, "audit")).Problem);
    }

    [Fact]
    public async Task AddHearth_registers_the_embedding_model_when_configured_and_audits_each_call()
    {
        // stories260K declared an embedding model (mean pooling) stands in for e.g. Qwen3-Embedding.
        var model = TestModels.StoriesEmbedding(Path.Combine(Home, "stories-embed.gguf"));
        var yaml = $"models: {{ default: '{Fixtures.Stories260K}', embedding: '{model}' }}\nhealthcare: {{ compliance_mode: none }}\n";
        await using (var provider = new ServiceCollection().AddHearth(Config(yaml)).BuildServiceProvider())
        {
            var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            var r = await generator.GenerateAsync(["a cat sat on the mat", "Once upon a time"]);
            Assert.Equal(2, r.Count);
            Assert.All(r, e => Assert.InRange(Math.Sqrt(e.Vector.ToArray().Sum(x => (double)x * x)), 0.9999, 1.0001));
            Assert.All(r, e => Assert.Equal(model, e.ModelId));
            var entry = Assert.Single(AuditEntries("request"));
            Assert.Equal("embedding", (string?)entry["route"]);
            Assert.Equal("embedded", (string?)entry["provider"]);
            Assert.Equal(r.Usage!.InputTokenCount, (long?)entry["input_tokens"]);
            // And one usage record for hearth cost: an embedding call, its tokens, nothing generated.
            var usage = Assert.Single(UsageLedger.ForHome(Home).Read());
            Assert.True(usage.IsEmbedding);
            Assert.Equal((model, "embedded", "completed", 0), (usage.Model, usage.Provider, usage.Outcome, usage.OutputTokens));
            Assert.Equal(r.Usage.InputTokenCount, usage.InputTokens);

            // The model host holds it like a chat model: listed (ps), charged to the budget, unloadable when idle.
            var host = provider.GetRequiredService<HearthRuntime>();
            var loaded = Assert.Single(host.LoadedModels);
            Assert.Equal("embedding:" + model, loaded.Name);
            Assert.True(loaded.EstimatedBytes > new FileInfo(model).Length / 2);
            Assert.True(host.Unload("embedding:" + model));
            Assert.Empty(host.LoadedModels);
            Assert.Equal(2, (await generator.GenerateAsync(["again", "and again"])).Count); // loads again on use
        }
        Assert.Null(AuditLog.Verify(Path.Combine(Home, "audit")).Problem);

        // Without models.embedding nothing is registered; a generative model named there is refused when first used.
        await using (var provider = new ServiceCollection().AddHearth(Config($"models: {{ default: '{Fixtures.Stories260K}' }}\n")).BuildServiceProvider())
            Assert.Null(provider.GetService<IEmbeddingGenerator<string, Embedding<float>>>());
        using var runtime = HearthRuntime.Create(Config($"models: {{ default: '{Fixtures.Stories260K}', embedding: '{Fixtures.Stories260K}' }}\n"));
        var ex = await Assert.ThrowsAsync<ModelUnavailableException>(() => runtime.EmbeddingGenerator!.GenerateAsync(["x"]));
        Assert.Contains("not an embedding model", ex.Message, StringComparison.Ordinal);
        var failed = AuditEntries("request").Last();
        Assert.Equal("failed: ModelUnavailableException", (string?)failed["decision"]);
        Assert.Equal(Fixtures.Stories260K, (string?)failed["model_digest"]);
        var failedUsage = UsageLedger.ForHome(Home).Read()[^1];
        Assert.Equal(("failed: ModelUnavailableException", UsageRecord.Embedding), (failedUsage.Outcome, failedUsage.Kind));
    }

    [Fact]
    public async Task With_router_embedding_weight_the_runtime_routes_with_the_embedding_model()
    {
        var model = TestModels.StoriesEmbedding(Path.Combine(Home, "stories-embed-route.gguf"));
        var yaml = $$"""
            models: { default: '{{Fixtures.Stories260K}}', embedding: '{{model}}' }
            healthcare: { compliance_mode: none }
            router: { embedding_weight: 0.5 }
            domains:
              stories: { examples: [ "once upon a time there was a little girl", "the dog ran to the park" ] }
              cooking: { examples: [ "how long to roast a chicken", "substitute for buttermilk" ] }
            """;
        using var runtime = HearthRuntime.Create(Config(yaml), new HearthRuntimeOptions { Threads = 1, Sweeper = false });
        Assert.True(runtime.Router.UsesEmbeddings);
        var lexical = runtime.Router.Route("the little girl and the dog");
        var blended = await runtime.Router.RouteAsync("the little girl and the dog");
        Assert.Equal("stories", blended.Domain);
        // Half of the content similarity now comes from the embedding cosine, so the scores differ from lexical ones.
        Assert.NotEqual(lexical.Candidates.Single(c => c.Domain == "stories").Similarity, blended.Candidates.Single(c => c.Domain == "stories").Similarity);

        // A generative model as the embedding model: the runtime does not start, and says which setting needs it.
        var wrong = yaml.Replace($"embedding: '{model}'", $"embedding: '{Fixtures.Stories260K}'", StringComparison.Ordinal);
        var ex = Assert.Throws<ModelUnavailableException>(() => HearthRuntime.Create(Config(wrong), new HearthRuntimeOptions { Threads = 1, Sweeper = false }));
        Assert.Contains("router.embedding_weight", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not an embedding model", ex.Message, StringComparison.Ordinal);

        // An embedding model loaded for embeddings is not a chat model.
        var chatAsEmbedding = new EmbeddedModelLoader(null).Load(new ModelPlan("embedding:" + model, model, 1, null));
        await Assert.ThrowsAsync<ModelUnavailableException>(() => chatAsEmbedding.GetResponseAsync("hi"));
        chatAsEmbedding.Dispose();

        var r = await runtime.ChatClient.GetResponseAsync("the little girl and the dog", new ChatOptions { MaxOutputTokens = 4, Temperature = 0 });
        Assert.False(string.IsNullOrWhiteSpace(r.Text));
        // Routing's embedding calls are part of the chat request: one audited request, no separate embedding entries.
        var entry = Assert.Single(AuditEntries("request"));
        Assert.NotEqual("embedding", (string?)entry["route"]);
    }

    [Fact]
    public async Task Each_domain_is_answered_with_its_adapter_from_one_loaded_model()
    {
        var dir = Path.Combine(Home, "bundle");
        Directory.CreateDirectory(dir);
        var bundle = Path.Combine(dir, "bundle.gguf");
        Hearth.Factory.BundleBuilder.Build(Hearth.Factory.BundleSpec.Load(Hearth.Tests.Factory.BundleTests.WriteSpec(dir)), bundle);
        var loraFile = Fixtures.File("lora", "lora-healthcare.gguf");
        var yaml = $$"""
            models: { default: '{{bundle}}' }
            healthcare: { compliance_mode: none }
            domains:
              healthcare: { description: clinical }
              creative: { description: stories }
              general: { description: anything }
              legal: { description: contracts, adapter: '{{loraFile}}' }
            """;
        using var rt = HearthRuntime.Create(Config(yaml), new HearthRuntimeOptions { Sweeper = false, Threads = 1 });
        async Task<string> Ask(IChatClient client, string? domain, string? adapter = null)
        {
            var props = new AdditionalPropertiesDictionary();
            if (domain is not null)
                props[HearthChatOptionKeys.Domain] = domain;
            if (adapter is not null)
                props[Hearth.Engine.Generation.EngineChatOptionKeys.Adapter] = adapter;
            var r = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "The patient")], new ChatOptions { Temperature = 0, MaxOutputTokens = 10, AdditionalProperties = props });
            return r.Text;
        }

        var general = await Ask(rt.ChatClient, "general");
        var healthcare = await Ask(rt.ChatClient, "healthcare");
        var creative = await Ask(rt.ChatClient, "creative");
        var legal = await Ask(rt.ChatClient, "legal");
        Assert.Single(rt.LoadedModels); // one load served every domain

        using var direct = Hearth.Engine.Generation.EngineChatClient.Open(bundle, new Hearth.Engine.Generation.EngineOptions { Threads = 1, AdapterFiles = new Dictionary<string, string> { ["file"] = loraFile } });
        Assert.Equal(await Ask(direct, null), general);
        Assert.Equal(await Ask(direct, null, "healthcare"), healthcare);
        Assert.Equal(await Ask(direct, null, "creative"), creative);
        Assert.Equal(await Ask(direct, null, "file"), legal);
        Assert.Equal(4, new[] { general, healthcare, creative, legal }.Distinct().Count());
    }
}
