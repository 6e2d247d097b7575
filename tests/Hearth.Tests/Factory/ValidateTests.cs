using System.Text.Json;
using Hearth.Factory;
using Hearth.Tests.Shared;

namespace Hearth.Tests.Factory;

public sealed class ValidateTests
{
    private static string EvalText => File.ReadAllText(Fixtures.File("models", "stories260K-eval.txt"));

    [Theory]
    [InlineData(128, "stories260K-eval.ppl-c128.json")]
    [InlineData(256, "stories260K-eval.ppl-c256.json")]
    public void PerplexityMatchesLlamaPerplexity(int context, string referenceFile)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Fixtures.File("models", referenceFile)));
        var final = json.RootElement.GetProperty("final");
        var report = ModelValidator.Validate(Fixtures.File("models", "stories260K.gguf"), null, EvalText, context, smokeTokens: 0);
        var p = report.Perplexity!;
        var chunks = json.RootElement.GetProperty("chunks");
        Assert.Equal(chunks.GetArrayLength(), p.Chunks);
        Assert.Equal(final.GetProperty("count").GetInt32(), p.ScoredTokens);
        // Logits agree with llama.cpp to ~1e-5, so the perplexity to ~1e-5 relative.
        Assert.Equal(final.GetProperty("ppl").GetDouble(), p.Perplexity, 1e-4 * p.Perplexity);
        for (var k = 0; k < p.Chunks; k++)
        {
            var printed = chunks[k].GetProperty("printed").GetString()!;
            Assert.Equal(printed, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{k + 1}]{p.Cumulative[k]:0.0000}"));
        }
    }

    [Theory]
    [InlineData("llama-spm-Q8_0.gguf", "stories260K-eval.kld-c128.llama-spm-Q8_0.json")]
    [InlineData("llama-spm-Q4_K_M.gguf", "stories260K-eval.kld-c128.llama-spm-Q4_K_M.json")]
    public void KlDivergenceAndTop1MatchLlamaPerplexity(string model, string referenceFile)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Fixtures.File("models", referenceFile)));
        var final = json.RootElement.GetProperty("final");
        var report = ModelValidator.Validate(Fixtures.File("llama-spm", model), Fixtures.File("llama-spm", "llama-spm-F32.gguf"), EvalText, 128, smokeTokens: 0);
        var d = report.Divergence!;
        Assert.Equal(final.GetProperty("kl_mean_exact").GetDouble(), d.MeanKl, 0.01 * d.MeanKl);
        Assert.Equal(100 * final.GetProperty("same_top_fraction").GetDouble(), d.Top1Percent, 0.5);
        Assert.Equal(final.GetProperty("ppl").GetDouble(), report.Perplexity!.Perplexity, 1e-3 * report.Perplexity.Perplexity);
        Assert.Equal(4272321.2506, d.Reference.Perplexity, 1e-4 * d.Reference.Perplexity);
    }

    [Fact]
    public void ThresholdsFailWhenMissed()
    {
        var text = EvalText[..2000]; // about 560 Llama-2 tokens: 4 chunks of 128 are enough to judge
        var strict = ModelValidator.Validate(Fixtures.File("llama-spm", "llama-spm-Q4_K_M.gguf"), Fixtures.File("llama-spm", "llama-spm-F32.gguf"), text, 128,
            new ValidationThresholds(MaxMeanKl: 0.05, MinTop1Percent: 90, MaxPerplexityRatio: null), smokeTokens: 4);
        Assert.Equal(2, strict.Failures.Count);
        Assert.Contains(strict.Failures, f => f.Contains("KL", StringComparison.Ordinal));
        Assert.Equal(ModelValidator.SmokePrompts.Count, strict.Smoke.Count);
        var loose = ModelValidator.Validate(Fixtures.File("llama-spm", "llama-spm-Q8_0.gguf"), Fixtures.File("llama-spm", "llama-spm-F32.gguf"), text, 128,
            new ValidationThresholds(MaxMeanKl: 0.05, MinTop1Percent: 80, MaxPerplexityRatio: 1.1), smokeTokens: 0);
        Assert.Empty(loose.Failures);
    }

    [Fact]
    public void TextTooShortIsAnError()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelValidator.Validate(Fixtures.File("models", "stories260K.gguf"), null, "Once upon a time", 128, smokeTokens: 0));
        Assert.Contains("256", ex.Message);
    }
}
