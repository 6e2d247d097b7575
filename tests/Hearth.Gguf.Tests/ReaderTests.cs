using System.Text.Json;
using Hearth.Tests.Shared;

namespace Hearth.Gguf.Tests;

public class ReaderTests
{
    public static TheoryData<string> AllFixtureFiles() => [.. Fixtures.AllGguf()];

    public static TheoryData<string> ModelsWithVectors() =>
    [
        .. Fixtures.AllGguf().Where(f => File.Exists(Fixtures.File(Path.ChangeExtension(f, ".json").Split('/'))))
    ];

    [Theory]
    [MemberData(nameof(AllFixtureFiles))]
    public void EveryFixtureParses(string relative)
    {
        using var file = GgufFile.Open(Fixtures.File(relative.Split('/')));
        Assert.InRange(file.Version, 2u, 3u);
        Assert.NotEmpty(file.Metadata);
        Assert.NotNull(file.Metadata.Architecture);
        foreach (var t in file.Tensors)
        {
            Assert.Equal(t.ByteSize, file.GetTensorData(t).Length);
            Assert.Equal(0, t.FileOffset % file.Alignment);
            Assert.True(t.FileOffset + t.ByteSize <= file.FileSize);
        }
    }

    [Theory]
    [MemberData(nameof(ModelsWithVectors))]
    public void ModelFactsMatchLlamaCpp(string relative)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Fixtures.File(Path.ChangeExtension(relative, ".json").Split('/'))));
        var model = json.RootElement.GetProperty("model");
        using var file = GgufFile.Open(Fixtures.File(relative.Split('/')));
        var md = file.Metadata;
        Assert.Equal(model.GetProperty("arch").GetString(), md.Architecture);
        Assert.Equal(model.GetProperty("n_embd").GetInt64(), md.EmbeddingLength);
        Assert.Equal(model.GetProperty("n_layer").GetInt64(), md.BlockCount);
        Assert.Equal(model.GetProperty("n_head").GetInt64(), md.HeadCount);
        Assert.Equal(model.GetProperty("n_head_kv").GetInt64(), md.HeadCountKv);
        Assert.Equal(model.GetProperty("n_ctx_train").GetInt64(), md.ContextLength);
        Assert.Equal(model.GetProperty("n_vocab").GetInt64(), md.Tokens!.Count);
        Assert.Equal(model.GetProperty("bos").GetInt32(), md.BosTokenId ?? -1);
        Assert.Equal(model.GetProperty("eos").GetInt32(), md.EosTokenId ?? -1);
        // llama.cpp's n_params is the element count of every tensor; size_bytes the sum of their data.
        Assert.Equal(model.GetProperty("n_params").GetInt64(), file.Tensors.Sum(t => t.ElementCount));
        Assert.Equal(model.GetProperty("size_bytes").GetInt64(), file.Tensors.Sum(t => t.ByteSize));
        Assert.Equal(json.RootElement.GetProperty("model_size_bytes").GetInt64(), file.FileSize);
    }

    [Fact]
    public void Stories260KTypedAccessors()
    {
        using var file = GgufFile.Open(Fixtures.Stories260K);
        var md = file.Metadata;
        Assert.Equal("llama", md.Architecture);
        Assert.Equal(3u, file.Version);
        Assert.Equal(48, file.Tensors.Count);
        Assert.Equal(2048, md.ContextLength);
        Assert.Equal(5, md.BlockCount);
        Assert.Equal(64, md.EmbeddingLength);
        Assert.Equal(172, md.FeedForwardLength);
        Assert.Equal(8, md.HeadCount);
        Assert.Equal(4, md.HeadCountKv);
        Assert.Equal(8, md.KeyLength);
        Assert.Equal(8, md.RopeDimensionCount);
        Assert.Null(md.RopeFreqBase);
        Assert.Equal(1e-5f, md.RmsNormEpsilon);
        Assert.Equal("llama", md.TokenizerModel);
        Assert.Null(md.TokenizerPre);
        Assert.Equal(512, md.Tokens!.Count);
        Assert.Equal("<unk>", md.Tokens.GetString(0));
        Assert.Equal("<0x00>", md.Tokens.GetString(3));
        Assert.Equal(512, md.Scores!.AsSpan<float>().Length);
        Assert.Equal(512, md.TokenTypes!.AsSpan<int>().Length);
        Assert.Equal(1, md.BosTokenId);
        Assert.Equal(2, md.EosTokenId);
        // Stored as u32 -1: treated as absent, as llama.cpp does.
        Assert.Null(md.PaddingTokenId);
        Assert.Null(md.ChatTemplate);
        var embd = file.GetTensor("token_embd.weight");
        Assert.Equal(GgmlType.F32, embd.Type);
        Assert.Equal([64L, 512L], embd.Dimensions);
        Assert.Equal(64 * 512 * 4, embd.ByteSize);
    }

    [Fact]
    public void QwenTokenizerMetadata()
    {
        using var file = GgufFile.Open(Fixtures.File("qwen3", "qwen3-F32_embQ4_0.gguf"));
        var md = file.Metadata;
        Assert.Equal("gpt2", md.TokenizerModel);
        Assert.Equal("qwen2", md.TokenizerPre);
        Assert.Equal(151936, md.Tokens!.Count);
        Assert.True(md.Merges!.Count > 100_000);
        Assert.Contains(' ', md.Merges.GetString(0));
        Assert.Equal(32, md.KeyLength);
        Assert.NotNull(md.ChatTemplate);
        Assert.Contains("<|im_start|>", md.ChatTemplate);
        Assert.Equal(GgmlType.Q4_0, file.GetTensor("token_embd.weight").Type);
    }

    [Fact]
    public void WrongTypeForWellKnownKeyNamesTheKey()
    {
        var w = new GgufWriter();
        w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
        w.SetMetadata("llama.block_count", GgufValue.FromString("five"));
        using var file = GgufFile.Read(TestFiles.ToBytes(w));
        var ex = Assert.Throws<GgufFormatException>(() => file.Metadata.BlockCount);
        Assert.Contains("llama.block_count", ex.Message);
        Assert.True(ex.Offset > 24);
    }

    [Fact]
    public void DisposedFileRefusesAccess()
    {
        var file = GgufFile.Open(Fixtures.Stories260K);
        var tokens = file.Metadata.Tokens!;
        var t = file.Tensors[0];
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.GetTensorData(t).Length);
        Assert.Throws<ObjectDisposedException>(() => tokens.GetString(0));
    }
}
