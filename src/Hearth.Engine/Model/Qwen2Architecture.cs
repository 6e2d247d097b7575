namespace Hearth.Engine.Model;

/// <summary><c>qwen2</c> (Qwen1.5/2/2.5): llama plus q/k/v projection biases; RoPE NeoX (half split).</summary>
internal sealed unsafe class Qwen2Architecture : ModelArchitecture
{
    public static readonly Qwen2Architecture Instance = new();

    /// <inheritdoc />
    public override string Name => "qwen2";

    /// <inheritdoc />
    public override RopeStyle Rope => RopeStyle.NeoX;

    /// <inheritdoc />
    public override LayerWeights BindLayer(TensorBinder b, ModelConfig c, int i)
    {
        var layer = BindCommon(b, c, i);
        layer.QueryBias = b.Vector($"blk.{i}.attn_q.bias", c.QueryWidth);
        layer.KeyBias = b.Vector($"blk.{i}.attn_k.bias", c.KeyWidth);
        layer.ValueBias = b.Vector($"blk.{i}.attn_v.bias", c.ValueWidth);
        return layer;
    }

    /// <inheritdoc />
    public override void AfterProjection(LayerWeights layer, ModelConfig c, float* q, float* k, float* v, int tokens)
    {
        for (var t = 0; t < tokens; t++)
        {
            Blocks.AddInPlace(q + t * c.QueryWidth, layer.QueryBias, c.QueryWidth);
            Blocks.AddInPlace(k + t * c.KeyWidth, layer.KeyBias, c.KeyWidth);
            Blocks.AddInPlace(v + t * c.ValueWidth, layer.ValueBias, c.ValueWidth);
        }
    }
}
