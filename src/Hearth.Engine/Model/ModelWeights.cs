namespace Hearth.Engine.Model;

/// <summary>One decoder layer's weights, views into the mapped file (ggml shapes in comments: [inputs, outputs]).</summary>
internal sealed unsafe class LayerWeights
{
    /// <summary>[n_embd] RMSNorm weight before attention.</summary>
    public required float* AttentionNorm { get; init; }
    /// <summary>[n_embd, n_head·head_k].</summary>
    public required WeightMatrix Query { get; init; }
    /// <summary>[n_embd, n_head_kv·head_k].</summary>
    public required WeightMatrix Key { get; init; }
    /// <summary>[n_embd, n_head_kv·head_v].</summary>
    public required WeightMatrix Value { get; init; }
    /// <summary>[n_head·head_v, n_embd].</summary>
    public required WeightMatrix Output { get; init; }
    /// <summary>[n_head·head_k] (qwen2), else null.</summary>
    public float* QueryBias { get; set; }
    /// <summary>[n_head_kv·head_k] (qwen2), else null.</summary>
    public float* KeyBias { get; set; }
    /// <summary>[n_head_kv·head_v] (qwen2), else null.</summary>
    public float* ValueBias { get; set; }
    /// <summary>[head_k] per-head RMSNorm of queries (qwen3), else null.</summary>
    public float* QueryNorm { get; set; }
    /// <summary>[head_k] per-head RMSNorm of keys (qwen3), else null.</summary>
    public float* KeyNorm { get; set; }
    /// <summary>[n_embd] RMSNorm weight before the FFN.</summary>
    public required float* FeedForwardNorm { get; init; }
    /// <summary>[n_embd, n_ff].</summary>
    public required WeightMatrix Gate { get; init; }
    /// <summary>[n_embd, n_ff].</summary>
    public required WeightMatrix Up { get; init; }
    /// <summary>[n_ff, n_embd].</summary>
    public required WeightMatrix Down { get; init; }
}

/// <summary>All weights of a model (llama2.c's <c>TransformerWeights</c>), never copied out of the mapping.</summary>
internal sealed unsafe class ModelWeights
{
    /// <summary>[n_embd, n_vocab] token embeddings (any type; rows are dequantized on lookup).</summary>
    public required WeightMatrix TokenEmbedding { get; init; }
    /// <summary>Decoder layers.</summary>
    public required LayerWeights[] Layers { get; init; }
    /// <summary>[n_embd] final RMSNorm weight.</summary>
    public required float* OutputNorm { get; init; }
    /// <summary>[n_embd, n_vocab] output projection: <c>output.weight</c>, or the embeddings when tied.</summary>
    public required WeightMatrix Output { get; init; }
    /// <summary>[rope_dims/2] RoPE frequency divisors (<c>rope_freqs.weight</c>, Llama 3.1 scaling), else null.</summary>
    public float* RopeFrequencyFactors { get; init; }
}
