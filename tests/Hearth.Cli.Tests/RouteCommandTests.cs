using System.Text.Json;
using Hearth.Tests.Shared;

namespace Hearth.Cli.Tests;

public sealed class RouteCommandTests
{
    private static string EvalPath => Path.Combine(Fixtures.RepoRoot, "samples", "router", "eval.jsonl");

    private static string TempFile(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"hearth-route-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, text);
        return path;
    }

    private static string ConfigFile(string yaml) => TempFile(yaml);

    [Fact]
    public async Task RoutesAQueryAndSaysWhy()
    {
        var config = ConfigFile("models: { default: qwen3 }\n");
        var r = await CliRunner.RunAsync("route", "--config", config, "What is a safe dose of ibuprofen for a child with a fever?");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("healthcare -> qwen3 via embedded: highest total", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithAnEmbeddingWeightTheExplanationUsesTheEmbeddingModel()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-route-embed-").FullName;
        try
        {
            var model = TestModels.StoriesEmbedding(Path.Combine(dir, "embed.gguf"));
            const string domains = "domains:\n  stories: { examples: [ \"once upon a time there was a girl\" ] }\n  cooking: { examples: [ \"how long to roast a chicken\" ] }\n";
            var lexical = await CliRunner.RunAsync("route", "--config", ConfigFile($"models: {{ default: m, embedding: '{model}' }}\n" + domains), "--json", "the girl");
            var blended = await CliRunner.RunAsync("route", "--config", ConfigFile($"models: {{ default: m, embedding: '{model}' }}\nrouter: {{ embedding_weight: 0.5 }}\n" + domains), "--json", "the girl");
            Assert.True(blended.ExitCode == 0, blended.Out + blended.Error);
            Assert.NotEqual(Candidate(lexical.Out, "stories").GetProperty("similarity").GetDouble(), Candidate(blended.Out, "stories").GetProperty("similarity").GetDouble());

            // A generative model as the embedding model: a clear error naming the setting.
            var bad = await CliRunner.RunAsync("route", "--config", ConfigFile($"models: {{ default: m, embedding: '{Fixtures.Stories260K}' }}\nrouter: {{ embedding_weight: 0.5 }}\n" + domains), "the girl");
            Assert.NotEqual(0, bad.ExitCode);
            Assert.Contains("router.embedding_weight", bad.Error, StringComparison.Ordinal);
            Assert.Contains("not an embedding model", bad.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        static JsonElement Candidate(string json, string domain) =>
            JsonDocument.Parse(json).RootElement.GetProperty("candidates").EnumerateArray().Single(c => c.GetProperty("domain").GetString() == domain);
    }

    [Fact]
    public async Task ADomainEvaluationStoredByValidateFeedsTheQualityScore()
    {
        var env = CliRunner.Hermetic();
        var home = (string)env["HEARTH_HOME"]!;
        Directory.CreateDirectory(home);
        try
        {
            var config = Path.Combine(home, "hearth.yaml");
            File.WriteAllText(config, $"models: {{ default: '{Fixtures.Stories260K}' }}\n");
            var before = await CliRunner.RunAsync(env, "route", "--config", config, "--json", "Write a short poem about the sea");
            var unmeasured = Candidate(before.Out, "creative").GetProperty("quality").GetDouble();

            var v = await CliRunner.RunAsync(env, "factory", "validate", Fixtures.Stories260K, "--text", Fixtures.File("models", "stories260K-eval.txt"),
                "--domain", "creative", "--config", config);
            Assert.True(v.ExitCode == 0, v.Out + v.Error);
            Assert.Contains("quality score for domain creative: 0.3067", v.Out, StringComparison.Ordinal); // 1 / 3.2605 (llama-perplexity's figure)

            var after = await CliRunner.RunAsync(env, "route", "--config", config, "--json", "Write a short poem about the sea");
            Assert.Equal(0.3067, Candidate(after.Out, "creative").GetProperty("quality").GetDouble(), 4);
            Assert.NotEqual(0.3067, unmeasured, 4);
            Assert.Equal(unmeasured, Candidate(after.Out, "business").GetProperty("quality").GetDouble()); // other domains untouched

            var unknown = await CliRunner.RunAsync(env, "factory", "validate", Fixtures.Stories260K, "--text", Fixtures.File("models", "stories260K-eval.txt"),
                "--domain", "astrology", "--config", config);
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("unknown domain 'astrology'", unknown.Error, StringComparison.Ordinal);
            var noText = await CliRunner.RunAsync(env, "factory", "validate", Fixtures.Stories260K, "--domain", "creative", "--config", config);
            Assert.Contains("--domain needs --text", noText.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }

        static JsonElement Candidate(string json, string domain) =>
            JsonDocument.Parse(json).RootElement.GetProperty("candidates").EnumerateArray().Single(c => c.GetProperty("domain").GetString() == domain);
    }

    [Fact]
    public async Task JsonHasEveryCandidateWithFourScores()
    {
        var config = ConfigFile("models: { default: qwen3 }\n");
        var r = await CliRunner.RunAsync("route", "--config", config, "--json", "Draft a sales proposal with pricing for a new enterprise customer");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal("business", root.GetProperty("domain").GetString());
        Assert.Equal("qwen3", root.GetProperty("model").GetString());
        var candidates = root.GetProperty("candidates").EnumerateArray().ToList();
        Assert.Equal(6, candidates.Count);
        foreach (var c in candidates)
        {
            foreach (var key in new[] { "content", "emotional", "speed", "quality", "total", "similarity" })
                Assert.InRange(c.GetProperty(key).GetDouble(), 0, 1);
        }

        Assert.Equal(0.4, root.GetProperty("weights").GetProperty("content").GetDouble());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task ExplainShowsTheTableAndCues()
    {
        var r = await CliRunner.RunAsync("route", "--config", ConfigFile("models: { default: m }\n"), "--explain", "I'm so scared, my dad collapsed and is not breathing properly!!");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("domain healthcare", r.Out, StringComparison.Ordinal);
        Assert.Contains("candidate        similarity content emotional speed quality total", r.Out, StringComparison.Ordinal);
        Assert.Contains("'scared'", r.Out, StringComparison.Ordinal);
        Assert.Contains("leadership", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WeightsInConfigChangeTheCommandsAnswer()
    {
        const string domains = """
            models: { default: base }
            domains:
              clinical: { model: fast, examples: [ "my chest hurts when I breathe" ] }
              support: { model: warm, empathetic: true, examples: [ "my chest hurts when I breathe" ] }
            """;
        const string query = "I'm terrified, my chest hurts when I breathe!!";
        var withEmotion = await CliRunner.RunAsync("route", "--config", ConfigFile(domains), "--json", query);
        var without = await CliRunner.RunAsync("route", "--config", ConfigFile(domains + "\nrouter: { weights: { emotional: 0 } }\n"), "--json", query);
        using var a = JsonDocument.Parse(withEmotion.Out);
        using var b = JsonDocument.Parse(without.Out);
        Assert.True(withEmotion.ExitCode == 0 && without.ExitCode == 0, withEmotion.Error + without.Error);
        Assert.Equal("support", a.RootElement.GetProperty("domain").GetString());
        Assert.Equal("clinical", b.RootElement.GetProperty("domain").GetString()); // tie on every score: configuration order
    }

    [Fact]
    public async Task BatchPrintsOneJsonDecisionPerLine()
    {
        var input = TempFile("Write a haiku about snow\n\nHow do I motivate my team after layoffs?\nHow do I descale a kettle?\n");
        var r = await CliRunner.RunAsync("route", "--config", ConfigFile("models: { default: m }\n"), "--batch", input);
        Assert.Equal(0, r.ExitCode);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        string Domain(string line)
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("domain").GetString()!;
        }

        Assert.Equal(["creative", "leadership", "general"], lines.Select(Domain));
    }

    [Fact]
    public async Task EvalOnTheSampleSetMeetsTheFloor()
    {
        var r = await CliRunner.RunAsync("route", "eval", "--data", EvalPath, "--config", ConfigFile("models: { default: m }\n"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(360, root.GetProperty("count").GetInt32());
        Assert.True(root.GetProperty("accuracy").GetDouble() >= 0.78); // floors as in Hearth.Tests RouterEvaluationTests
        Assert.True(root.GetProperty("macro_f1").GetDouble() >= 0.77);
        Assert.Equal(6, root.GetProperty("confusion").GetArrayLength());
        Assert.True(root.GetProperty("latency_p99_microseconds").GetDouble() > 0);

        var human = await CliRunner.RunAsync("route", "eval", "--data", EvalPath, "--config", ConfigFile("models: { default: m }\n"));
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("queries 360, accuracy", human.Out, StringComparison.Ordinal);
        Assert.Contains("out-of-scope (general): precision", human.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ErrorsAreOneLineWithTheRightExitCode()
    {
        var missing = await CliRunner.RunAsync("route");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("missing QUERY", missing.Error, StringComparison.Ordinal);

        var badData = await CliRunner.RunAsync("route", "eval", "--data", TempFile("{\"text\": \"x\"}\n"));
        Assert.Equal(1, badData.ExitCode);
        Assert.Contains(":1: \"domain\" must be a non-empty string", badData.Error, StringComparison.Ordinal);

        var badConfig = await CliRunner.RunAsync("route", "--config", ConfigFile("router: { confidence_threshold: 7 }\n"), "hello");
        Assert.Equal(1, badConfig.ExitCode);
        Assert.Contains("router.confidence_threshold", badConfig.Error, StringComparison.Ordinal);

        var noFile = await CliRunner.RunAsync("route", "--batch", "/nonexistent/queries.txt");
        Assert.Equal(1, noFile.ExitCode);
        Assert.Contains("batch file not found", noFile.Error, StringComparison.Ordinal);
    }
}
