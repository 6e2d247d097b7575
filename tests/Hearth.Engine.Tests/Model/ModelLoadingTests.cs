using Hearth.Engine.Model;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Model;

public sealed unsafe class ModelLoadingTests
{
    [Fact]
    public void ReadsHyperParametersAndUsesWeightsInPlace()
    {
        using var model = TransformerModel.Load(Fixtures.File("llama-spm", "llama-spm-F32.gguf"));
        var c = model.Config;
        Assert.Equal(("llama", 64, 2, 4, 2, 16, 256, 32000), (c.Architecture, c.EmbeddingLength, c.LayerCount, c.HeadCount, c.HeadCountKv, c.KeyLength, c.FeedForwardLength, c.VocabSize));
        Assert.Equal(RopeStyle.Normal, c.Rope);
        // Tied output: no output.weight, so the embeddings are reused.
        Assert.Same(model.Weights.TokenEmbedding, model.Weights.Output);
        // Every weight is a pointer into the mapping, not a copy.
        var q = model.Weights.Layers[1].Query;
        Assert.Equal(model.File.GetTensorAddress(model.File.GetTensor("blk.1.attn_q.weight")), (nint)q.Data);
        Assert.Equal(model.File.GetTensorAddress(model.File.GetTensor("blk.0.attn_norm.weight")), (nint)model.Weights.Layers[0].AttentionNorm);
    }

    [Fact]
    public void Qwen3ReadsHeadDimFromKeyLengthAndBindsNorms()
    {
        using var model = TransformerModel.Load(Fixtures.File("qwen3", "qwen3-F32_embQ4_0.gguf"));
        Assert.Equal(32, model.Config.KeyLength);
        Assert.Equal(128, model.Config.QueryWidth);
        Assert.Equal(RopeStyle.NeoX, model.Config.Rope);
        Assert.True(model.Weights.Layers[0].QueryNorm != null);
        Assert.True(model.Weights.Layers[0].KeyNorm != null);
        Assert.Equal(GgmlType.Q4_0, model.Weights.TokenEmbedding.Type);
    }

    [Fact]
    public void Qwen2BindsBiasesAndLlamaBpeBindsRopeFactorsAndUntiedOutput()
    {
        using (var qwen2 = TransformerModel.Load(Fixtures.File("qwen2", "qwen2-F32_embQ4_0.gguf")))
            Assert.True(qwen2.Weights.Layers[1].QueryBias != null && qwen2.Weights.Layers[1].ValueBias != null);
        using var bpe = TransformerModel.Load(Fixtures.File("llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0.gguf"));
        Assert.True(bpe.Weights.RopeFrequencyFactors != null);
        Assert.NotSame(bpe.Weights.TokenEmbedding, bpe.Weights.Output);
        Assert.Equal(500000f, bpe.Config.RopeFreqBase);
    }

    [Fact]
    public void MissingTensorNamesTensorAndShape()
    {
        var path = Rewrite(w => w.RemoveTensor("blk.1.ffn_up.weight"));
        try
        {
            var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(path));
            Assert.Contains("blk.1.ffn_up.weight", e.Message, StringComparison.Ordinal);
            Assert.Contains("[64, 256]", e.Message, StringComparison.Ordinal);
            Assert.Contains("missing", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MisShapedTensorNamesExpectedAndActualShape()
    {
        var path = Rewrite(w =>
        {
            w.RemoveTensor("blk.0.attn_k.weight");
            w.AddTensor("blk.0.attn_k.weight", GgmlType.F32, [64, 64], new byte[64 * 64 * 4]);
        });
        try
        {
            var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(path));
            Assert.Contains("blk.0.attn_k.weight", e.Message, StringComparison.Ordinal);
            Assert.Contains("[64, 64]", e.Message, StringComparison.Ordinal);
            Assert.Contains("[64, 32]", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        var path = Rewrite(w => w.SetMetadata("general.architecture", GgufValue.FromString("mamba")));
        try
        {
            var e = Assert.Throws<ModelLoadException>(() => TransformerModel.Load(path));
            Assert.Contains("mamba", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Rewrite(Action<GgufWriter> change)
    {
        using var source = GgufFile.Open(Fixtures.File("llama-spm", "llama-spm-F32.gguf"));
        var writer = GgufWriter.FromFile(source);
        change(writer);
        var path = Path.Combine(Path.GetTempPath(), $"hearth-engine-test-{Guid.NewGuid():N}.gguf");
        writer.WriteTo(path);
        return path;
    }
}
