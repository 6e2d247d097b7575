using Hearth.Gguf;

namespace Hearth.Engine.Model;

/// <summary>How RoPE pairs the dimensions of a head.</summary>
internal enum RopeStyle
{
    /// <summary>Adjacent pairs (2i, 2i+1): llama.</summary>
    Normal,
    /// <summary>Halves (i, i + d/2): GPT-NeoX, Qwen.</summary>
    NeoX,
}

/// <summary>Hyper-parameters of a decoder-only transformer, read from GGUF metadata (llama2.c's <c>Config</c>).</summary>
internal sealed record ModelConfig
{
    public required string Architecture { get; init; }
    public required int EmbeddingLength { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int HeadCountKv { get; init; }
    /// <summary>Per-head size of queries and keys.</summary>
    public required int KeyLength { get; init; }
    /// <summary>Per-head size of values.</summary>
    public required int ValueLength { get; init; }
    public required int FeedForwardLength { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public required float RmsEpsilon { get; init; }
    public required float RopeFreqBase { get; init; }
    /// <summary>Linear RoPE scaling: positions are multiplied by this (1 / scaling factor).</summary>
    public required float RopeFreqScale { get; init; }
    /// <summary>Leading dimensions of each head that RoPE rotates.</summary>
    public required int RopeDimensionCount { get; init; }
    public required RopeStyle Rope { get; init; }

    /// <summary>Query width: heads × key length.</summary>
    public int QueryWidth => HeadCount * KeyLength;

    /// <summary>Key width in the cache: KV heads × key length.</summary>
    public int KeyWidth => HeadCountKv * KeyLength;

    /// <summary>Value width in the cache: KV heads × value length.</summary>
    public int ValueWidth => HeadCountKv * ValueLength;

    /// <summary>Attention output width (input of attn_output): heads × value length.</summary>
    public int AttentionWidth => HeadCount * ValueLength;

    /// <summary>Reads the shared llama-family keys; <paramref name="vocabSize"/> comes from the embedding tensor.</summary>
    public static ModelConfig Read(GgufMetadata md, string source, RopeStyle rope, int vocabSize)
    {
        var arch = md.Architecture ?? throw new ModelLoadException($"{source}: metadata key general.architecture is missing.");
        int Required(long? value, string key) => value is { } v
            ? checked((int)v)
            : throw new ModelLoadException($"{source}: metadata key {arch}.{key} is missing.");

        var embd = Required(md.EmbeddingLength, "embedding_length");
        var heads = Required(md.HeadCount, "attention.head_count");
        var kvHeads = Required(md.HeadCountKv, "attention.head_count_kv");
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ModelLoadException($"{source}: {arch}.attention.head_count {heads} is not a positive multiple of head_count_kv {kvHeads}.");
        var keyLength = Required(md.KeyLength, "attention.key_length");
        var valueLength = Required(md.ValueLength, "attention.value_length");
        var ropeDims = md.RopeDimensionCount is { } rd ? (int)rd : keyLength;
        if (ropeDims % 2 != 0 || ropeDims > keyLength)
            throw new ModelLoadException($"{source}: {arch}.rope.dimension_count {ropeDims} must be even and at most the head size {keyLength}.");

        var freqScale = 1f;
        var scalingType = md.GetString(arch + ".rope.scaling.type");
        var factor = md.GetArchSingle("rope.scaling.factor") ?? md.GetArchSingle("rope.scale_linear");
        if (factor is { } f && f > 0 && (scalingType is null or "linear"))
            freqScale = 1f / f;

        return new ModelConfig
        {
            Architecture = arch,
            EmbeddingLength = embd,
            LayerCount = Required(md.BlockCount, "block_count"),
            HeadCount = heads,
            HeadCountKv = kvHeads,
            KeyLength = keyLength,
            ValueLength = valueLength,
            FeedForwardLength = Required(md.FeedForwardLength, "feed_forward_length"),
            VocabSize = vocabSize,
            ContextLength = md.ContextLength is { } c ? (int)Math.Min(c, int.MaxValue) : 2048,
            RmsEpsilon = md.RmsNormEpsilon ?? throw new ModelLoadException($"{source}: metadata key {arch}.attention.layer_norm_rms_epsilon is missing."),
            RopeFreqBase = md.RopeFreqBase ?? 10000f,
            RopeFreqScale = freqScale,
            RopeDimensionCount = ropeDims,
            Rope = rope,
        };
    }
}
