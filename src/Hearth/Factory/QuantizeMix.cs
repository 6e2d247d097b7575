using System.Globalization;
using Hearth.Gguf;

namespace Hearth.Factory;

/// <summary>Model facts the mix rules depend on (read from the source's metadata).</summary>
/// <param name="Architecture">general.architecture.</param>
/// <param name="LayerCount">{arch}.block_count.</param>
/// <param name="HeadCount">{arch}.attention.head_count.</param>
/// <param name="HeadCountKv">{arch}.attention.head_count_kv.</param>
/// <param name="ExpertCount">{arch}.expert_count (0 without experts).</param>
internal sealed record QuantizeModelFacts(string Architecture, int LayerCount, int HeadCount, int HeadCountKv, int ExpertCount)
{
    /// <summary>Query heads per KV head.</summary>
    public int Gqa => HeadCountKv > 0 ? HeadCount / HeadCountKv : 1;

    /// <summary>llama.cpp's "70B" model class (80 llama layers with grouped-query attention), which keeps attn_v higher.</summary>
    public bool Is70B => Architecture == "llama" && LayerCount == 80 && HeadCount != HeadCountKv;

    /// <summary>Reads the facts from a GGUF file's metadata.</summary>
    public static QuantizeModelFacts From(GgufMetadata metadata)
    {
        var arch = metadata.Architecture ?? throw new ArgumentException("The model has no general.architecture key.", nameof(metadata));
        return new QuantizeModelFacts(
            arch,
            (int)(metadata.BlockCount ?? 0),
            (int)(metadata.HeadCount ?? 0),
            (int)(metadata.HeadCountKv ?? metadata.HeadCount ?? 0),
            (int)(metadata.GetArchInteger("expert_count") ?? 0));
    }
}

/// <summary>Options of a quantization besides the file type.</summary>
internal sealed record QuantizeOptions
{
    /// <summary>Type for token_embd.weight (llama-quantize --token-embedding-type); null = the mix's choice.</summary>
    public GgmlType? TokenEmbeddingType { get; init; }

    /// <summary>Type for output.weight (llama-quantize --output-tensor-type); null = the mix's choice.</summary>
    public GgmlType? OutputTensorType { get; init; }

    /// <summary>Every quantizable weight gets the file type's default type (llama-quantize --pure); shape fallbacks still apply.</summary>
    public bool Pure { get; init; }

    /// <summary>Allow already-quantized source tensors to be dequantized and quantized again (--allow-requantize).</summary>
    public bool AllowRequantize { get; init; }

    /// <summary>Worker threads for the row quantizers; 0 = one per processor.</summary>
    public int Threads { get; init; }
}

/// <summary>What happens to one tensor.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Source">Its type in the source.</param>
/// <param name="Target">Its type in the output.</param>
/// <param name="Note">A fallback note (why a type other than the mix's was used), or null.</param>
internal sealed record TensorPlan(string Name, GgmlType Source, GgmlType Target, string? Note);

/// <summary>
/// llama.cpp's per-tensor type choice for a file type (llama-quant.cpp, without importance matrix): which weights
/// are quantized at all, which stay at higher precision per layer in the _S/_M/_L mixes, and the fallbacks when a
/// row length is not a multiple of the block size. Tensors must be given in llama-quantize's order
/// (<see cref="OrderTensors"/>), since the per-layer counters advance in that order.
/// </summary>
internal sealed class QuantizeMix
{
    private readonly QuantizeFileType _fileType;
    private readonly QuantizeOptions _options;
    private readonly QuantizeModelFacts _facts;
    private readonly bool _tiedEmbeddings;
    private readonly int _attentionVCount;
    private int _attentionV, _ffnDown;

    private QuantizeMix(QuantizeFileType fileType, QuantizeOptions options, QuantizeModelFacts facts, IReadOnlyList<string> names)
    {
        _fileType = fileType;
        _options = options;
        _facts = facts;
        _tiedEmbeddings = !names.Contains("output.weight");
        _attentionVCount = names.Count(n => IsAttentionVLike(Categorize(n)));
    }

    /// <summary>
    /// The order llama-quantize writes tensors in: tensors outside <c>blk.N.</c> first, then by layer number,
    /// each group sorted by name (ordinal).
    /// </summary>
    public static List<GgufTensorInfo> OrderTensors(IEnumerable<GgufTensorInfo> tensors) =>
        [.. tensors.OrderBy(t => LayerOf(t.Name)).ThenBy(t => t.Name, StringComparer.Ordinal)];

    /// <summary>The layer a name like <c>blk.12.attn_q.weight</c> belongs to; -1 for tensors outside the layers.</summary>
    public static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal))
            return -1;
        var end = 4;
        while (end < name.Length && char.IsAsciiDigit(name[end]))
            end++;
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var layer) ? layer : -1;
    }

    /// <summary>Plans every tensor (in the given order, which should be <see cref="OrderTensors"/>'s).</summary>
    public static List<TensorPlan> Plan(QuantizeFileType fileType, QuantizeOptions options, QuantizeModelFacts facts, IReadOnlyList<GgufTensorInfo> ordered)
    {
        var mix = new QuantizeMix(fileType, options, facts, [.. ordered.Select(t => t.Name)]);
        var plans = new List<TensorPlan>(ordered.Count);
        foreach (var t in ordered)
            plans.Add(mix.PlanOne(t));
        return plans;
    }

    private enum Category { TokenEmbedding, AttentionQ, AttentionV, AttentionK, AttentionQkv, AttentionKvB, AttentionOutput, FfnUp, FfnGate, FfnDown, Output, Other }

    private static Category Categorize(string name)
    {
        if (name == "output.weight")
            return Category.Output;
        if (name is "token_embd.weight" or "per_layer_token_embd.weight")
            return Category.TokenEmbedding;
        if (name.Contains("attn_qkv.weight", StringComparison.Ordinal))
            return Category.AttentionQkv;
        if (name.Contains("attn_kv_b.weight", StringComparison.Ordinal))
            return Category.AttentionKvB;
        if (name.Contains("attn_v.weight", StringComparison.Ordinal))
            return Category.AttentionV;
        if (name.Contains("attn_k.weight", StringComparison.Ordinal))
            return Category.AttentionK;
        if (name.Contains("attn_q.weight", StringComparison.Ordinal))
            return Category.AttentionQ;
        if (name.Contains("attn_output.weight", StringComparison.Ordinal))
            return Category.AttentionOutput;
        if (name.Contains("ffn_up", StringComparison.Ordinal))
            return Category.FfnUp;
        if (name.Contains("ffn_gate", StringComparison.Ordinal))
            return Category.FfnGate;
        if (name.Contains("ffn_down", StringComparison.Ordinal))
            return Category.FfnDown;
        return Category.Other;
    }

    private static bool IsAttentionVLike(Category c) => c is Category.AttentionV or Category.AttentionQkv or Category.AttentionKvB;

    // Names llama.cpp never quantizes although they are 2-D weights (small or position-like tensors).
    private static readonly string[] KeepPrecision =
    [
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
        "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_",
        ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    ];

    /// <summary>Number of dimensions as ggml counts them (trailing 1s do not count).</summary>
    public static int DimensionCount(IReadOnlyList<long> dims)
    {
        for (var i = dims.Count - 1; i > 0; i--)
        {
            if (dims[i] != 1)
                return i + 1;
        }
        return 1;
    }

    /// <summary>Whether llama-quantize would quantize this tensor at all (2-D or 3-D weights, not norms, not the listed small tensors).</summary>
    public static bool AllowsQuantization(GgufTensorInfo t)
    {
        if (DimensionCount(t.Dimensions) < 2)
            return false;
        var name = t.Name;
        if (!name.EndsWith("weight", StringComparison.Ordinal))
            return false;
        foreach (var k in KeepPrecision)
        {
            if (name.Contains(k, StringComparison.Ordinal))
                return false;
        }
        return name is not ("position_embd.weight" or "token_types.weight");
    }

    private TensorPlan PlanOne(GgufTensorInfo t)
    {
        if (!AllowsQuantization(t))
            return new TensorPlan(t.Name, t.Type, t.Type, null);
        var category = Categorize(t.Name);
        if (_options.TokenEmbeddingType is { } te && category == Category.TokenEmbedding)
            return new TensorPlan(t.Name, t.Type, te, null);
        if (_options.OutputTensorType is { } ot && category == Category.Output)
            return new TensorPlan(t.Name, t.Type, ot, null);

        var type = _fileType.DefaultType;
        if (!_fileType.IsQuantized)
            return new TensorPlan(t.Name, t.Type, type, null);
        if (!_options.Pure)
            type = MixType(type, t, category);
        var (final, note) = Fallback(t, type);
        return new TensorPlan(t.Name, t.Type, final, note);
    }

    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private int LayerFor(int counter, string name)
    {
        if (_facts.ExpertCount <= 1)
            return counter;
        var layer = LayerOf(name);
        if (layer < 0 || layer >= _facts.LayerCount)
            throw new InvalidDataException($"Cannot determine the layer of tensor '{name}' (expected blk.N. with N below {_facts.LayerCount}).");
        return layer;
    }

    private GgmlType MixType(GgmlType type, GgufTensorInfo t, Category category)
    {
        var ft = _fileType;
        var falcon = _facts.Architecture == "falcon";
        var n = _facts.LayerCount;

        if (category == Category.Output || (_tiedEmbeddings && category == Category.TokenEmbedding))
        {
            if (_options.OutputTensorType is { } ot)
                return ot;
            if (falcon || t.RowLength % GgmlTypeTraits.Get(type).BlockSize != 0)
                return GgmlType.Q8_0;
            return type != GgmlType.Q8_0 ? GgmlType.Q6_K : type;
        }
        if (category == Category.TokenEmbedding)
            return _options.TokenEmbeddingType ?? type;

        if (IsAttentionVLike(category))
        {
            if (ft == QuantizeFileType.Q2_K)
                type = _facts.Gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
            else if (ft == QuantizeFileType.Q3_K_M)
                type = _attentionV < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
            else if (ft == QuantizeFileType.Q3_K_L)
                type = GgmlType.Q5_K;
            else if ((ft == QuantizeFileType.Q4_K_M || ft == QuantizeFileType.Q5_K_M) && UseMoreBits(_attentionV, _attentionVCount))
                type = GgmlType.Q6_K;
            else if (ft == QuantizeFileType.Q4_K_S && _attentionV < 4)
                type = GgmlType.Q5_K;
            if (_facts.Is70B && type is GgmlType.Q3_K or GgmlType.Q4_K)
                type = GgmlType.Q5_K;
            if (_facts.ExpertCount == 8)
                type = GgmlType.Q8_0;
            _attentionV++;
            return type;
        }
        if (category == Category.AttentionK)
            return _facts.ExpertCount == 8 ? GgmlType.Q8_0 : type;
        if (category == Category.FfnDown)
        {
            var layer = LayerFor(_ffnDown, t.Name);
            if (ft == QuantizeFileType.Q2_K)
                type = GgmlType.Q3_K;
            else if (ft == QuantizeFileType.Q3_K_M)
                type = layer < n / 16 ? GgmlType.Q5_K : !falcon || UseMoreBits(layer, n) ? GgmlType.Q4_K : GgmlType.Q3_K;
            else if (ft == QuantizeFileType.Q3_K_L)
                type = falcon ? GgmlType.Q4_K : GgmlType.Q5_K;
            else if (ft == QuantizeFileType.Q4_K_M)
            {
                if (falcon)
                    type = layer < n / 16 ? GgmlType.Q6_K : UseMoreBits(layer, n) ? GgmlType.Q5_K : GgmlType.Q4_K;
                else if (UseMoreBits(layer, n))
                    type = GgmlType.Q6_K;
            }
            else if (ft == QuantizeFileType.Q5_K_M && UseMoreBits(layer, n))
                type = GgmlType.Q6_K;
            else if (ft == QuantizeFileType.Q4_K_S && !falcon && layer < n / 8)
                type = GgmlType.Q5_K;
            _ffnDown++;
            return type;
        }
        if (category == Category.AttentionOutput)
        {
            if (!falcon)
            {
                if (_facts.ExpertCount == 8)
                {
                    if (ft == QuantizeFileType.Q2_K || ft == QuantizeFileType.Q3_K_S || ft == QuantizeFileType.Q3_K_M
                        || ft == QuantizeFileType.Q4_K_S || ft == QuantizeFileType.Q4_K_M)
                        type = GgmlType.Q5_K;
                }
                else if (ft == QuantizeFileType.Q2_K)
                    type = GgmlType.Q3_K;
                else if (ft == QuantizeFileType.Q3_K_M)
                    type = GgmlType.Q4_K;
                else if (ft == QuantizeFileType.Q3_K_L)
                    type = GgmlType.Q5_K;
            }
            else if (ft == QuantizeFileType.Q3_K_L)
                type = GgmlType.Q4_K;
            return type;
        }
        // Fused QKV is attn_v-like and was handled above; ffn_gate / ffn_up change only for i-quant mixes.
        return type;
    }

    // A row length the type's blocks do not divide: the next type that fits, as llama.cpp falls back.
    private static (GgmlType Type, string? Note) Fallback(GgufTensorInfo t, GgmlType type)
    {
        var block = GgmlTypeTraits.Get(type).BlockSize;
        if (t.RowLength % block == 0)
            return (type, null);
        GgmlType next = type switch
        {
            GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.TQ1_0 or GgmlType.TQ2_0 => GgmlType.Q4_0,
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            GgmlType.IQ2_XXS or GgmlType.IQ2_XS or GgmlType.IQ2_S or GgmlType.IQ3_XXS or GgmlType.IQ3_S or GgmlType.IQ1_S
                or GgmlType.IQ1_M or GgmlType.IQ4_XS => GgmlType.IQ4_NL,
            _ => throw new InvalidDataException(
                $"Tensor '{t.Name}': row length {t.RowLength} is not a multiple of {block} (required for {GgmlTypeTraits.Get(type).Name}) and no fallback type is defined for {GgmlTypeTraits.Get(type).Name}."),
        };
        var why = $"row length {t.RowLength} not divisible by {block} (required for {GgmlTypeTraits.Get(type).Name})";
        if (t.RowLength % GgmlTypeTraits.Get(next).BlockSize != 0)
            return (GgmlType.F16, why + ", must use f16 due to unusual shape");
        return (next, why + $", falling back to {GgmlTypeTraits.Get(next).Name}");
    }
}
