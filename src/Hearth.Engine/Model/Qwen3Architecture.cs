namespace Hearth.Engine.Model;

/// <summary>
/// <c>qwen3</c>: llama plus a per-head RMSNorm of queries and keys (<c>attn_q_norm</c>, <c>attn_k_norm</c>,
/// over head_dim, before RoPE); head_dim comes from <c>attention.key_length</c> and may differ from
/// n_embd / n_head; RoPE NeoX.
/// </summary>
internal sealed unsafe class Qwen3Architecture : ModelArchitecture
{
    public static readonly Qwen3Architecture Instance = new();

    /// <inheritdoc />
    public override string Name => "qwen3";

    /// <inheritdoc />
    public override RopeStyle Rope => RopeStyle.NeoX;

    /// <inheritdoc />
    public override LayerWeights BindLayer(TensorBinder b, ModelConfig c, int i)
    {
        var layer = BindCommon(b, c, i);
        layer.QueryNorm = b.Vector($"blk.{i}.attn_q_norm.weight", c.KeyLength);
        layer.KeyNorm = b.Vector($"blk.{i}.attn_k_norm.weight", c.KeyLength);
        return layer;
    }

    /// <inheritdoc />
    public override void AfterProjection(LayerWeights layer, ModelConfig c, float* q, float* k, float* v, int tokens)
    {
        var hd = c.KeyLength;
        for (var t = 0; t < tokens; t++)
        {
            for (var h = 0; h < c.HeadCount; h++)
            {
                var head = q + t * c.QueryWidth + h * hd;
                Blocks.RmsNorm(head, layer.QueryNorm, head, hd, c.RmsEpsilon);
            }
            for (var h = 0; h < c.HeadCountKv; h++)
            {
                var head = k + t * c.KeyWidth + h * hd;
                Blocks.RmsNorm(head, layer.KeyNorm, head, hd, c.RmsEpsilon);
            }
        }
    }
}
