using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>
/// What differs between the supported decoder architectures: how hyper-parameters are read, which
/// tensors a layer has, and what happens between the q/k/v projections and RoPE. The rest of the
/// forward pass (<see cref="InferenceSession"/>) is shared.
/// </summary>
internal abstract unsafe class ModelArchitecture
{
    /// <summary>The GGUF <c>general.architecture</c> value.</summary>
    public abstract string Name { get; }

    /// <summary>RoPE pairing.</summary>
    public abstract RopeStyle Rope { get; }

    /// <summary>Architectures the engine runs.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["llama", "qwen2", "qwen3"];

    /// <summary>The architecture named <paramref name="name"/>.</summary>
    public static ModelArchitecture For(string? name, string source) => name switch
    {
        "llama" => LlamaArchitecture.Instance,
        "qwen2" => Qwen2Architecture.Instance,
        "qwen3" => Qwen3Architecture.Instance,
        null => throw new ModelLoadException($"{source}: metadata key general.architecture is missing."),
        _ => throw new ModelLoadException($"{source}: architecture '{name}' is not supported (supported: {string.Join(", ", Supported)})."),
    };

    /// <summary>Reads hyper-parameters.</summary>
    public virtual ModelConfig ReadConfig(GgufMetadata metadata, string source, int vocabSize) =>
        ModelConfig.Read(metadata, source, Rope, vocabSize);

    /// <summary>Binds layer <paramref name="i"/>'s tensors.</summary>
    public virtual LayerWeights BindLayer(TensorBinder b, ModelConfig c, int i) => BindCommon(b, c, i);

    /// <summary>Hook between the q/k/v projections and RoPE, for <paramref name="tokens"/> rows of q, k, v.</summary>
    public virtual void AfterProjection(LayerWeights layer, ModelConfig c, float* q, float* k, float* v, int tokens)
    {
    }

    /// <summary>The llama layer layout, which the others extend.</summary>
    protected static LayerWeights BindCommon(TensorBinder b, ModelConfig c, int i)
    {
        var p = $"blk.{i}.";
        return new LayerWeights
        {
            AttentionNorm = b.Vector(p + "attn_norm.weight", c.EmbeddingLength),
            Query = b.Matrix(p + "attn_q.weight", c.EmbeddingLength, c.QueryWidth),
            Key = b.Matrix(p + "attn_k.weight", c.EmbeddingLength, c.KeyWidth),
            Value = b.Matrix(p + "attn_v.weight", c.EmbeddingLength, c.ValueWidth),
            Output = b.Matrix(p + "attn_output.weight", c.AttentionWidth, c.EmbeddingLength),
            FeedForwardNorm = b.Vector(p + "ffn_norm.weight", c.EmbeddingLength),
            Gate = b.Matrix(p + "ffn_gate.weight", c.EmbeddingLength, c.FeedForwardLength),
            Up = b.Matrix(p + "ffn_up.weight", c.EmbeddingLength, c.FeedForwardLength),
            Down = b.Matrix(p + "ffn_down.weight", c.FeedForwardLength, c.EmbeddingLength),
        };
    }
}
