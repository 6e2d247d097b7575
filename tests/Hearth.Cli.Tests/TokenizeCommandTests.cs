using System.Text.Json;
using System.Text.Json.Nodes;
using Hearth.Tests.Shared;

namespace Hearth.Cli.Tests;

/// <summary><c>hearth tokenize</c> and <c>hearth template</c> against llama.cpp's reference tokenizations (issue 3).</summary>
public sealed class TokenizeCommandTests
{
    public static TheoryData<string> Vocabs() => new() { "llama-spm", "gpt-2", "bert-bge" };

    private static JsonNode Reference(string vocab, string id) =>
        JsonNode.Parse(File.ReadAllText(Fixtures.File("vocab", $"ggml-vocab-{vocab}.tokenize.json")))!["tokenization"]!
            .AsArray().Single(t => (string)t!["id"]! == id)!;

    [Theory]
    [MemberData(nameof(Vocabs))]
    public async Task JsonIdsEqualLlamaCpp(string vocab)
    {
        var reference = Reference(vocab, "english");
        var text = (string)reference["text"]!;
        var model = Fixtures.File("vocab", $"ggml-vocab-{vocab}.gguf");

        var withSpecial = await CliRunner.RunAsync("tokenize", "--model", model, "--json", text);
        Assert.Equal(0, withSpecial.ExitCode);
        Assert.Equal(reference["add_special=1,parse_special=0"]!.AsArray().Select(n => (int)n!), JsonSerializer.Deserialize<int[]>(withSpecial.Out)!);

        var noBos = await CliRunner.RunAsync("tokenize", "--model", model, "--no-bos", "--json", text);
        Assert.Equal(reference["add_special=0,parse_special=0"]!.AsArray().Select(n => (int)n!), JsonSerializer.Deserialize<int[]>(noBos.Out)!);
    }

    [Fact]
    public async Task TableShowsPiecesAndCount()
    {
        var r = await CliRunner.RunAsync("tokenize", "--model", Fixtures.File("vocab", "ggml-vocab-llama-spm.gguf"), "Hello world");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\" Hello\"", r.Out, StringComparison.Ordinal);
        Assert.Contains("\" world\"", r.Out, StringComparison.Ordinal);
        Assert.Contains("3 tokens (llama", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SpecialParsesControlTokenText()
    {
        var model = Fixtures.File("vocab", "ggml-vocab-llama-spm.gguf");
        var plain = JsonSerializer.Deserialize<int[]>((await CliRunner.RunAsync("tokenize", "--model", model, "--no-bos", "--json", "</s>")).Out)!;
        var special = JsonSerializer.Deserialize<int[]>((await CliRunner.RunAsync("tokenize", "--model", model, "--no-bos", "--special", "--json", "</s>")).Out)!;
        Assert.Equal([2], special);
        Assert.True(plain.Length > 1);
    }

    [Fact]
    public async Task TemplateRendersChatMlFromAFile()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-tpl-").FullName;
        try
        {
            var template = Path.Combine(dir, "chatml.jinja");
            File.WriteAllText(template, "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
            var messages = Path.Combine(dir, "messages.json");
            File.WriteAllText(messages, """[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]""");
            var r = await CliRunner.RunAsync("template", "--template", template, "--messages", messages, "--add-generation-prompt");
            Assert.Equal(0, r.ExitCode);
            Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", r.Out);

            File.WriteAllText(messages, """[{"role":"user","content":"Hi"},""");
            var bad = await CliRunner.RunAsync("template", "--template", template, "--messages", messages);
            Assert.Equal(1, bad.ExitCode);
            Assert.Contains("invalid JSON", bad.Error, StringComparison.Ordinal);

            var none = await CliRunner.RunAsync("template", "--messages", messages);
            Assert.Equal(2, none.ExitCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task TemplateWithoutOneInTheModelSaysSo()
    {
        var dir = Directory.CreateTempSubdirectory("hearth-tpl-").FullName;
        try
        {
            var messages = Path.Combine(dir, "m.json");
            File.WriteAllText(messages, """[{"role":"user","content":"Hi"}]""");
            var r = await CliRunner.RunAsync("template", "--model", Fixtures.Stories260K, "--messages", messages);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("no tokenizer.chat_template", r.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
