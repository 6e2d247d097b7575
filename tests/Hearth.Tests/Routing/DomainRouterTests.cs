using Hearth.Configuration;
using Hearth.Privacy;
using Hearth.Routing;
using Microsoft.Extensions.AI;

namespace Hearth.Tests.Routing;

public sealed class DomainRouterTests
{
    internal static HearthConfig Config(string yaml)
    {
        var (c, errors) = HearthConfigLoader.CheckText(yaml);
        Assert.Empty(errors);
        return c;
    }

    private static readonly HearthConfig Defaults = Config("models: { default: qwen3 }");

    // Two domains that match the same questions: one fast and terse, one empathetic.
    private const string TwoClinics = """
        models: { default: base }
        domains:
          clinical:
            model: clinical-fast
            description: medical questions answered briefly
            examples: [ "what dose of paracetamol for a headache", "symptoms of a chest infection", "my chest hurts when I breathe" ]
          support:
            model: support-warm
            empathetic: true
            description: medical questions answered with care
            examples: [ "what dose of paracetamol for a headache", "symptoms of a chest infection", "my chest hurts when I breathe" ]
        """;

    [Theory]
    [InlineData("What antibiotics treat strep throat and how long until I'm not contagious?", "healthcare")]
    [InlineData("How should we price our new subscription tier to reduce churn?", "business")]
    [InlineData("Explain how to solve simultaneous equations for my homework", "education")]
    [InlineData("Write a poem about a lighthouse and the sea at night", "creative")]
    [InlineData("How do I give difficult feedback to a manager on my team?", "leadership")]
    [InlineData("How do I descale my espresso machine?", "general")]
    public void DefaultDomainsRouteClearQueries(string query, string expected)
    {
        var router = DomainRouter.Create(Defaults);
        var d = router.Route(query);
        Assert.Equal(expected, d.Domain);
        Assert.Equal("qwen3", d.Model);
        Assert.Equal("embedded", d.Provider);
        Assert.Equal(expected == "general", d.IsFallback);
    }

    [Fact]
    public void DefaultDomainsAreUsedOnlyWhenConfigHasNone()
    {
        Assert.Equal(["healthcare", "business", "education", "creative", "leadership", "general"], DomainRouter.Create(Defaults).Domains.Select(d => d.Name));
        Assert.Equal(["clinical", "support"], DomainRouter.Create(Config(TwoClinics)).Domains.Select(d => d.Name));
    }

    [Fact]
    public void DecisionExplainsEveryCandidate()
    {
        var d = DomainRouter.Create(Defaults).Route("What is the normal dose of metformin for type 2 diabetes?");
        Assert.Equal("healthcare", d.Domain);
        Assert.Equal(6, d.Candidates.Count);
        Assert.Equal("healthcare", d.Candidates[0].Domain);
        Assert.Equal(1.0, d.Candidates[0].Content, 9);
        foreach (var c in d.Candidates.Where(c => !c.IsFallback))
        {
            var w = d.Weights;
            Assert.Equal((w.Content * c.Content) + (w.Emotional * c.Emotional) + (w.Speed * c.Speed) + (w.Quality * c.Quality), c.Total, 9);
            Assert.InRange(c.Similarity, 0, 1);
            Assert.InRange(c.Content, 0, 1);
        }

        Assert.Contains("highest total", d.Reason, StringComparison.Ordinal);
        var text = d.Explain();
        foreach (var name in new[] { "healthcare", "business", "education", "creative", "leadership", "general" })
            Assert.Contains(name, text, StringComparison.Ordinal);
        Assert.Contains("threshold", text, StringComparison.Ordinal);
    }

    [Fact]
    public void DecisionsAreDeterministic()
    {
        var a = DomainRouter.Create(Defaults);
        var b = DomainRouter.Create(Defaults);
        foreach (var q in new[] { "I'm scared my son has meningitis!!", "quarterly revenue forecast", "tell me a story about a dragon", "" })
        {
            var x = a.Route(q);
            var y = b.Route(q);
            var z = a.Route(q);
            Assert.Equal(x.Domain, y.Domain);
            Assert.Equal(x.Candidates, y.Candidates);
            Assert.Equal(x.Candidates, z.Candidates);
            Assert.Equal(x.Reason, z.Reason);
        }
    }

    [Fact]
    public void OutOfScopeGoesToGeneralAndSaysWhy()
    {
        var d = DomainRouter.Create(Defaults).Route("What's the best way to descale a kettle?");
        Assert.Equal("general", d.Domain);
        Assert.True(d.IsFallback);
        Assert.True(d.Confidence < d.Threshold);
        Assert.Contains("below the threshold", d.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ThresholdFromConfigControlsFallback()
    {
        const string query = "What's the best way to descale a kettle?";
        var never = DomainRouter.Create(Config("models: { default: m }\nrouter: { confidence_threshold: 0 }")).Route(query);
        var always = DomainRouter.Create(Config("models: { default: m }\nrouter: { confidence_threshold: 1 }")).Route("What are the symptoms of diabetes in adults?");
        Assert.NotEqual("general", never.Domain);
        Assert.Equal("general", always.Domain);
        Assert.True(always.IsFallback);
    }

    [Fact]
    public void AddingExamplesInConfigRoutesANewTopic()
    {
        const string query = "How do I adjust the rear derailleur on my road bike?";
        var before = DomainRouter.Create(Defaults).Route(query);
        Assert.Equal("general", before.Domain);
        var withCycling = Config("""
            models: { default: m }
            domains:
              cycling:
                model: bike-expert
                examples: [ "my bike gears skip when I pedal hard", "how to index the derailleur", "best tyre pressure for a road bike" ]
              cooking:
                examples: [ "how long to roast a chicken", "substitute for buttermilk in pancakes" ]
            """);
        var after = DomainRouter.Create(withCycling).Route(query);
        Assert.Equal("cycling", after.Domain);
        Assert.Equal("bike-expert", after.Model);
    }

    [Fact]
    public void EmotionalWeightSendsDistressToTheEmpatheticDomain()
    {
        const string calm = "symptoms of a chest infection";
        const string distressed = "I'm terrified, my chest hurts so much when I breathe and I can't cope!!";
        var stats = new InMemoryModelStatsSource().SetTokensPerSecond("clinical-fast", 80).SetTokensPerSecond("support-warm", 40);
        var router = DomainRouter.Create(Config(TwoClinics), stats);

        // Same content: the faster model wins a calm query; distress outweighs speed with default weights.
        Assert.Equal("clinical", router.Route(calm).Domain);
        var d = router.Route(distressed);
        Assert.Equal("support", d.Domain);
        Assert.True(d.Emotion.Intensity > 0.5);
        Assert.True(d.Candidates.Single(c => c.Domain == "support").Emotional > 0);
        Assert.Equal(0, d.Candidates.Single(c => c.Domain == "clinical").Emotional);

        // With no emotional weight, speed decides again.
        var noEmotion = DomainRouter.Create(Config(TwoClinics + "\nrouter: { weights: { emotional: 0 } }"), stats);
        Assert.Equal("clinical", noEmotion.Route(distressed).Domain);
    }

    [Fact]
    public void SpeedAndQualityWeightsChooseBetweenEqualDomains()
    {
        const string query = "symptoms of a chest infection";
        var stats = new InMemoryModelStatsSource()
            .SetTokensPerSecond("clinical-fast", 90).SetTokensPerSecond("support-warm", 30)
            .SetQuality("clinical-fast", "clinical", 0.55).SetQuality("support-warm", "support", 0.95);
        var speedFirst = DomainRouter.Create(Config(TwoClinics + "\nrouter: { weights: { speed: 0.5, quality: 0.1 } }"), stats).Route(query);
        var qualityFirst = DomainRouter.Create(Config(TwoClinics + "\nrouter: { weights: { speed: 0.05, quality: 0.6 } }"), stats).Route(query);
        Assert.Equal("clinical", speedFirst.Domain);
        Assert.Equal("support", qualityFirst.Domain);
        var fast = speedFirst.Candidates.Single(c => c.Domain == "clinical");
        var slow = speedFirst.Candidates.Single(c => c.Domain == "support");
        Assert.Equal(1.0, fast.Speed, 9);
        Assert.Equal(30.0 / 90.0, slow.Speed, 9);
        Assert.Equal(0.95, slow.Quality, 9);

        // Unmeasured models score the neutral 0.5.
        var unmeasured = DomainRouter.Create(Config(TwoClinics)).Route(query);
        Assert.All(unmeasured.Candidates, c => Assert.Equal(DomainRouter.Unmeasured, c.Speed));
    }

    private const string Cloud = """
        system: { mode: hybrid }
        privacy: { external_calls: enabled }
        providers:
          openai: { enabled: true }
        domains:
          marketing:
            model: gpt-4o-mini
            provider: openai
            policy: allow_cloud
            examples: [ "write ad copy for our summer sale", "slogan for a shoe brand campaign", "patient brochure advertising our clinic" ]
          notes:
            model: qwen3
            examples: [ "summarise my meeting notes", "turn these notes into a todo list" ]
        """;

    [Fact]
    public void PolicyFiltersComeFirst()
    {
        const string query = "write ad copy for our summer sale on shoes";
        var allowed = DomainRouter.Create(Config(Cloud)).Route(query);
        Assert.Equal("marketing", allowed.Domain);
        Assert.Equal("openai", allowed.Provider);

        // The same configuration with external calls off: the best content match is never chosen.
        var c = Config(Cloud);
        var locked = c with { Privacy = c.Privacy with { ExternalCalls = ExternalCalls.Disabled } };
        var d = DomainRouter.Create(locked).Route(query);
        Assert.NotEqual("marketing", d.Domain);
        var excluded = d.Candidates.Single(x => x.Domain == "marketing");
        Assert.False(excluded.Allowed);
        Assert.Equal(0, excluded.Total);
        Assert.Contains("external_calls", excluded.ExcludedBy, StringComparison.Ordinal);
        Assert.Equal(excluded, d.Candidates[^1]);
    }

    [Fact]
    public void QueriesWithPhiNeverReachAnExternalProvider()
    {
        var router = DomainRouter.Create(Config(Cloud));
        var d = router.Route("patient brochure advertising our clinic for patient John Miller, SSN 123-45-6789");
        Assert.NotEqual("marketing", d.Domain);
        var marketing = d.Candidates.Single(x => x.Domain == "marketing");
        Assert.False(marketing.Allowed);
        Assert.Contains("PHI", marketing.ExcludedBy, StringComparison.Ordinal);
        Assert.Equal("marketing", router.Route("patient brochure advertising our clinic").Domain);
    }

    [Fact]
    public void ContextHelpsAShortFollowUp()
    {
        var router = DomainRouter.Create(Defaults);
        Assert.Equal("general", router.Route("ok, and the other one?").Domain);
        var d = router.Route("ok, and the other one?", "Should we use subscription pricing or usage-based pricing for our enterprise customers?");
        Assert.Equal("business", d.Domain);
        Assert.True(d.UsedContext);
    }

    private const string FruitAndCars = """
        models: { default: m }
        domains:
          fruit: { examples: [ "apple pie recipe", "which apple variety is sweetest" ] }
          cars: { examples: [ "engine oil change interval", "how often to rotate tyres" ] }
        """;

    [Fact]
    public async Task EmbeddingsBlendIntoTheContentScore()
    {
        var config = Config(FruitAndCars);
        using var embedder = new KeywordEmbedder();
        var router = await DomainRouter.CreateAsync(config, embedder);
        Assert.Equal(4, embedder.Inputs); // every example embedded once, at build time
        const string query = "banana smoothie";
        Assert.Equal("general", router.Route(query).Domain); // no shared words: lexically out of scope
        var d = await router.RouteAsync(query);
        Assert.Equal("fruit", d.Domain);
        Assert.InRange(d.Candidates.Single(c => c.Domain == "fruit").Similarity, 0.5, 0.55); // half of cosine 1, plus ~0 lexical
        Assert.Equal(5, embedder.Inputs);
    }

    [Fact]
    public async Task AFailingEmbeddingFallsBackToLexicalRoutingWithTheReason()
    {
        var config = Config(FruitAndCars);
        using var embedder = new KeywordEmbedder { FailAfter = 4 }; // the examples embed; every query fails
        var router = await DomainRouter.CreateAsync(config, embedder);
        var d = await router.RouteAsync("apple pie for dessert");
        Assert.Equal("fruit", d.Domain);
        Assert.Equal(router.Route("apple pie for dessert").Candidates.Single(c => c.Domain == "fruit").Similarity, d.Candidates.Single(c => c.Domain == "fruit").Similarity);
        Assert.Contains("lexical only: the embedding model failed: query too long", d.Reason, StringComparison.Ordinal);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => router.RouteAsync("apple", cancellationToken: cts.Token));
    }

    /// <summary>A deterministic embedding: one dimension per topic keyword list.</summary>
    private sealed class KeywordEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        private static readonly string[][] Topics = [["apple", "banana", "pie", "smoothie"], ["engine", "oil", "tyres", "car"]];

        public int Inputs { get; private set; }

        /// <summary>Inputs after which every call throws (as an embedding model given a text over its context would).</summary>
        public int FailAfter { get; init; } = int.MaxValue;

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Inputs >= FailAfter)
                throw new ArgumentException("query too long");
            var result = new GeneratedEmbeddings<Embedding<float>>();
            foreach (var v in values)
            {
                Inputs++;
                var vector = new float[Topics.Length + 1];
                for (var t = 0; t < Topics.Length; t++)
                    vector[t] = Topics[t].Any(k => v.Contains(k, StringComparison.OrdinalIgnoreCase)) ? 1 : 0;
                if (vector.All(x => x == 0))
                    vector[^1] = 1;
                result.Add(new Embedding<float>(vector));
            }

            return Task.FromResult(result);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    [Fact]
    public void PolicyExcludingEverythingThrows()
    {
        var c = Config(Cloud);
        var locked = c with
        {
            Privacy = c.Privacy with { ExternalCalls = ExternalCalls.Disabled },
            Domains = new Dictionary<string, DomainOptions>
            {
                ["marketing"] = c.Domains["marketing"],
                ["general"] = new() { Name = "general", Model = "gpt-4o", Provider = "openai" },
            },
        };
        var ex = Assert.Throws<PolicyRefusedException>(() => DomainRouter.Create(locked).Route("write ad copy"));
        Assert.Contains("fallback", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfidenceThresholdIsValidated()
    {
        var (_, errors) = HearthConfigLoader.CheckText("router: { confidence_threshold: 1.5 }");
        var e = Assert.Single(errors);
        Assert.Equal("router.confidence_threshold", e.Key);
        Assert.Equal(0.25, Config("router: { confidence_threshold: 0.25 }").Router.ConfidenceThreshold);
    }
}
