using System.Security.Cryptography;
using Hearth.Tests.Shared;

namespace Hearth.Cli.Tests;

public sealed class FactoryCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-factory-cli-").FullName;

    [Fact]
    public async Task BundleBuildsValidatesAndInspectShowsTheDomains()
    {
        var spec = Path.Combine(_dir, "bundle.yaml");
        File.WriteAllText(spec, $"""
            base: {Spm("llama-spm-F32.gguf")}
            domains:
              healthcare:
                adapter: {Fixtures.File("lora", "lora-healthcare.gguf")}
                description: clinical questions
              creative:
                adapter: {Fixtures.File("lora", "lora-creative.gguf")}
                scale: 0.5
              general:
                description: everything else
            """);
        var output = Path.Combine(_dir, "bundle.gguf");
        var r = await CliRunner.RunAsync("factory", "bundle", spec, output, "--validate");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("healthcare: LoRA, 8 tensors, rank 4, alpha 8", r.Out, StringComparison.Ordinal);
        Assert.Contains("general: base model", r.Out, StringComparison.Ordinal);
        Assert.Contains("bundle validated", r.Out, StringComparison.Ordinal);

        var inspect = await CliRunner.RunAsync("inspect", output);
        Assert.True(inspect.ExitCode == 0, inspect.Error);
        Assert.Contains("Hearth bundle", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("clinical questions", inspect.Out, StringComparison.Ordinal);
        var json = System.Text.Json.JsonDocument.Parse((await CliRunner.RunAsync("inspect", output, "--json")).Out).RootElement;
        var domains = json.GetProperty("bundle_domains");
        Assert.Equal(3, domains.GetArrayLength());
        Assert.Equal("creative", domains[1].GetProperty("name").GetString());
        Assert.Equal(0.5f, domains[1].GetProperty("scale").GetSingle());
        Assert.Equal(8, domains[1].GetProperty("adapter_tensors").GetInt32());
        Assert.Equal(0, domains[2].GetProperty("adapter_tensors").GetInt32());
        var plain = System.Text.Json.JsonDocument.Parse((await CliRunner.RunAsync("inspect", Spm("llama-spm-F32.gguf"), "--json")).Out).RootElement;
        Assert.Equal(System.Text.Json.JsonValueKind.Null, plain.GetProperty("bundle_domains").ValueKind);

        // A description error names the file, line and key; nothing is written.
        File.WriteAllText(spec, $"base: {Spm("llama-spm-F32.gguf")}\ndomains:\n  legal:\n    scael: 2\n");
        var bad = await CliRunner.RunAsync("factory", "bundle", spec, Path.Combine(_dir, "bad.gguf"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("bundle.yaml:4: domains.legal.scael", bad.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "bad.gguf")));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Spm(string file) => Fixtures.File("llama-spm", file);

    [Fact]
    public async Task QuantizeWritesTheSameBytesAsLlamaQuantize()
    {
        var output = Path.Combine(_dir, "q.gguf");
        var r = await CliRunner.RunAsync("factory", "quantize", Spm("llama-spm-F32.gguf"), output, "--type", "Q4_K_M", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("Q4_K_M", r.Out, StringComparison.Ordinal);
        Assert.Contains("falling back to q5_0", r.Out, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(Spm("llama-spm-Q4_K_M.gguf")), File.ReadAllBytes(output));
    }

    [Fact]
    public async Task UnknownTypeListsTheValidOnes()
    {
        var r = await CliRunner.RunAsync("factory", "quantize", Spm("llama-spm-F32.gguf"), Path.Combine(_dir, "x.gguf"), "--type", "Q7");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Q7", r.Error, StringComparison.Ordinal);
        Assert.Contains("Q4_K_M", r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "x.gguf")));
    }

    [Fact]
    public async Task QuantizedSourceNamesTheTensor()
    {
        var r = await CliRunner.RunAsync("factory", "quantize", Spm("llama-spm-Q8_0.gguf"), Path.Combine(_dir, "x.gguf"), "--type", "Q4_0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("blk.0.attn_k.weight", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MergeMatchesLlamaExportLora()
    {
        var output = Path.Combine(_dir, "merged.gguf");
        var r = await CliRunner.RunAsync("factory", "merge", Spm("llama-spm-F32.gguf"), Fixtures.File("lora", "lora-healthcare.gguf"), "--scale", "0.5", output);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("blk.1.attn_v.weight", r.Out, StringComparison.Ordinal);
        // sha256 of llama-export-lora's output for this merge (lora/merged_reference.json).
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Fixtures.File("lora", "merged_reference.json")));
        var expected = json.RootElement.GetProperty("merges").EnumerateArray()
            .Single(m => m.GetProperty("adapter_file").GetString() == "lora-healthcare.gguf" && m.GetProperty("user_scale").GetDouble() == 0.5)
            .GetProperty("output_manifest").GetProperty("sha256").GetString();
        Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(output))));
    }

    [Fact]
    public async Task MergeWithTypeQuantizesTheResult()
    {
        var output = Path.Combine(_dir, "merged-q8.gguf");
        var r = await CliRunner.RunAsync("factory", "merge", Spm("llama-spm-F32.gguf"), Fixtures.File("lora", "lora-creative.gguf"), "--type", "Q8_0", output);
        Assert.True(r.ExitCode == 0, r.Error);
        using var f = Hearth.Gguf.GgufFile.Open(output);
        Assert.Equal(Hearth.Gguf.GgmlType.Q8_0, f.GetTensor("blk.0.ffn_up.weight").Type);
        Assert.Equal(7, f.Metadata.FileType);
        Assert.Empty(Directory.EnumerateFiles(_dir, "*.tmp"));
    }

    [Fact]
    public async Task ValidateReportsPerplexityAndKlDivergence()
    {
        var text = Fixtures.File("models", "stories260K-eval.txt");
        var r = await CliRunner.RunAsync("factory", "validate", Fixtures.File("models", "stories260K.gguf"), "--text", text);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("perplexity: 3.260", r.Out, StringComparison.Ordinal);
        Assert.Contains("Once upon a time", r.Out, StringComparison.Ordinal);

        var kl = await CliRunner.RunAsync("factory", "validate", Spm("llama-spm-Q8_0.gguf"), "--reference", Spm("llama-spm-F32.gguf"), "--text", text, "--max-kl", "0.001");
        Assert.Equal(1, kl.ExitCode);
        Assert.Contains("mean KL divergence: 0.012", kl.Out, StringComparison.Ordinal);
        Assert.Contains("exceeds 0.001", kl.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuantizeValidateChecksTheOutputAgainstTheSource()
    {
        var output = Path.Combine(_dir, "q8.gguf");
        var text = Fixtures.File("models", "stories260K-eval.txt");
        var r = await CliRunner.RunAsync("factory", "quantize", Spm("llama-spm-F32.gguf"), output, "--type", "Q8_0", "--validate", "--text", text, "--max-kl", "0.05", "--min-top1", "80");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("all thresholds met", r.Out, StringComparison.Ordinal);
    }
}
