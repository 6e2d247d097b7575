using Hearth.Engine.Generation;
using Hearth.Engine.Model;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Model;

/// <summary>Models split by gguf-split load from their first part, map every part in place, and compute exactly what
/// the single file computes; a missing or foreign part is an error naming the file.</summary>
public sealed class SplitModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hearth-split-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ASplitModelComputesExactlyWhatTheSingleFileDoes()
    {
        var parts = SplitGguf.Write(Fixtures.Stories260K, _dir, "stories", 3);
        using (var first = GgufFile.Open(parts[0]))
            Assert.True(first.Tensors.Count < 20, "the first part should hold only its share of the tensors");

        using var whole = EngineChatClient.Open(Fixtures.Stories260K, new EngineOptions { Threads = 1 });
        using var split = EngineChatClient.Open(parts[0], new EngineOptions { Threads = 1 });
        var prompt = whole.Generator.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        Assert.Equal(prompt, split.Generator.Tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false));
        var a = whole.Generator.Generate(prompt, new GenerationOptions { MaxTokens = 32 });
        var b = split.Generator.Generate(prompt, new GenerationOptions { MaxTokens = 32 });
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.Text, b.Text);

        using var model = TransformerModel.Load(parts[0]);
        using var single = TransformerModel.Load(Fixtures.Stories260K);
        Assert.Equal(3, model.Parts.Count);
        Assert.Equal(single.TensorBytes, model.TensorBytes);
        using var s1 = new InferenceSession(single, new SessionOptions { Threads = 1 });
        using var s2 = new InferenceSession(model, new SessionOptions { Threads = 1 });
        var l1 = s1.Evaluate(prompt).ToArray();
        var l2 = s2.Evaluate(prompt).ToArray();
        Assert.Equal(l1, l2);
    }

    [Fact]
    public void PartsAreFoundWithTheSeparatorsSpelledAsTheFirstPartSpellsThem()
    {
        var parts = SplitGguf.Write(Fixtures.Stories260K, _dir, "stories", 2);
        string[] upper = [Path.Combine(_dir, "Stories-00001-OF-00002.GGUF"), Path.Combine(_dir, "Stories-00002-OF-00002.GGUF")];
        File.Move(parts[0], upper[0]);
        File.Move(parts[1], upper[1]);
        Assert.Equal(upper[1], SplitParts.PathOf(upper[0], 2, 2));
        using var model = TransformerModel.Load(upper[0]);
        Assert.Equal(2, model.Parts.Count);
    }

    [Fact]
    public void AMissingPartIsNamed()
    {
        var parts = SplitGguf.Write(Fixtures.Stories260K, _dir, "stories", 3);
        File.Delete(parts[2]);
        var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(parts[0]));
        Assert.Contains("part 3 of 3", e.Message);
        Assert.Contains(parts[2], e.Message);
    }

    [Fact]
    public void OpeningALaterPartSaysToOpenTheFirst()
    {
        var parts = SplitGguf.Write(Fixtures.Stories260K, _dir, "stories", 2);
        var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(parts[1]));
        Assert.Contains("part 2 of a 2-part split model", e.Message);
        Assert.Contains("00001-of-00002", e.Message);
    }

    [Fact]
    public void APartFromAnotherSplitIsRefused()
    {
        var two = SplitGguf.Write(Fixtures.Stories260K, _dir, "stories", 2);
        var other = Directory.CreateTempSubdirectory("hearth-split-other-").FullName;
        try
        {
            var three = SplitGguf.Write(Fixtures.Stories260K, other, "stories", 3);
            File.Copy(three[1], two[1], overwrite: true); // part 2 of 3 where part 2 of 2 belongs
            var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(two[0]));
            Assert.Contains(two[1], e.Message);
            Assert.Contains("split.count = 3", e.Message);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }

    [Fact]
    public void AFirstPartWhoseNameLostThePatternIsExplained()
    {
        var parts = SplitGguf.Write(Fixtures.Stories260K, _dir, "stories", 2);
        var renamed = Path.Combine(_dir, "renamed.gguf");
        File.Move(parts[0], renamed);
        var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(renamed));
        Assert.Contains("PREFIX-00001-of-00002.gguf", e.Message);
    }
}
