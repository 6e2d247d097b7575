namespace Hearth.Gguf;

/// <summary>
/// What a person wants to know about a GGUF file before loading it: architecture, size, the quantization mix,
/// shape hyper-parameters, tokenizer, and an estimate of the memory needed to run it.
/// </summary>
public sealed record GgufSummary
{
    /// <summary>Context length used for the memory estimate when the caller gives none: the model's own, capped at this.</summary>
    public const int DefaultContextCap = 4096;

    /// <summary>File size in bytes.</summary>
    public required long FileSize { get; init; }
    /// <summary>GGUF version.</summary>
    public required uint Version { get; init; }
    /// <summary><c>general.architecture</c>.</summary>
    public required string? Architecture { get; init; }
    /// <summary><c>general.name</c>.</summary>
    public required string? Name { get; init; }
    /// <summary><c>general.type</c> (<c>model</c>, <c>adapter</c>), when present.</summary>
    public required string? Kind { get; init; }
    /// <summary>llama.cpp's file type name from <c>general.file_type</c> (e.g. <c>Q4_K_M</c>), when present.</summary>
    public required string? FileType { get; init; }
    /// <summary>Number of tensors.</summary>
    public required int TensorCount { get; init; }
    /// <summary>Parameters: the element count of every tensor (llama.cpp's <c>n_params</c>).</summary>
    public required long ParameterCount { get; init; }
    /// <summary>Bytes of tensor data.</summary>
    public required long TensorBytes { get; init; }
    /// <summary>Share of tensor bytes per type, largest first.</summary>
    public required IReadOnlyList<GgufTypeShare> Quantization { get; init; }
    /// <summary>Training context length.</summary>
    public required long? ContextLength { get; init; }
    /// <summary>Number of layers.</summary>
    public required long? BlockCount { get; init; }
    /// <summary>Embedding width.</summary>
    public required long? EmbeddingLength { get; init; }
    /// <summary>Feed-forward width.</summary>
    public required long? FeedForwardLength { get; init; }
    /// <summary>Attention heads.</summary>
    public required long? HeadCount { get; init; }
    /// <summary>Key/value heads.</summary>
    public required long? HeadCountKv { get; init; }
    /// <summary>Key head dimension.</summary>
    public required long? HeadDim { get; init; }
    /// <summary>Vocabulary size.</summary>
    public required long? VocabSize { get; init; }
    /// <summary>Tokenizer model (<c>llama</c> = SentencePiece, <c>gpt2</c> = BPE, <c>bert</c> = WordPiece).</summary>
    public required string? TokenizerModel { get; init; }
    /// <summary>BPE pre-tokenizer name.</summary>
    public required string? TokenizerPre { get; init; }
    /// <summary>Whether the file carries a chat template.</summary>
    public required bool HasChatTemplate { get; init; }
    /// <summary>Context length the memory estimate assumes.</summary>
    public required long EstimateContext { get; init; }
    /// <summary>Estimated KV cache bytes at <see cref="EstimateContext"/> with an F16 cache.</summary>
    public required long KvCacheBytes { get; init; }
    /// <summary>Estimated bytes to load and run: weights plus KV cache.</summary>
    public long EstimatedMemoryBytes => TensorBytes + KvCacheBytes;

    /// <summary>Summarises an open file; <paramref name="context"/> overrides the context used for the KV estimate.</summary>
    public static GgufSummary From(GgufFile file, long? context = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var md = file.Metadata;
        var tensorBytes = file.Tensors.Sum(t => t.ByteSize);
        var shares = file.Tensors
            .GroupBy(t => t.Type)
            .Select(g => new GgufTypeShare(GgmlTypeTraits.Get(g.Key).Name, g.Count(), g.Sum(t => t.ByteSize),
                tensorBytes == 0 ? 0 : (double)g.Sum(t => t.ByteSize) / tensorBytes))
            .OrderByDescending(s => s.Bytes)
            .ThenBy(s => s.Type, StringComparer.Ordinal)
            .ToList();
        var contextLength = md.ContextLength;
        var estimateContext = context ?? Math.Min(contextLength ?? DefaultContextCap, DefaultContextCap);
        long kv = 0;
        if (md.BlockCount is { } layers && md.HeadCountKv is { } kvHeads && md.KeyLength is { } kDim)
        {
            var vDim = md.ValueLength ?? kDim;
            kv = layers * estimateContext * kvHeads * (kDim + vDim) * 2; // F16: two bytes per element
        }
        return new GgufSummary
        {
            FileSize = file.FileSize,
            Version = file.Version,
            Architecture = md.Architecture,
            Name = md.Name,
            Kind = md.Type,
            FileType = md.FileType is { } ft ? GgufFileTypes.Name(ft) : null,
            TensorCount = file.Tensors.Count,
            ParameterCount = file.Tensors.Sum(t => t.ElementCount),
            TensorBytes = tensorBytes,
            Quantization = shares,
            ContextLength = contextLength,
            BlockCount = md.BlockCount,
            EmbeddingLength = md.EmbeddingLength,
            FeedForwardLength = md.FeedForwardLength,
            HeadCount = md.HeadCount,
            HeadCountKv = md.HeadCountKv,
            HeadDim = md.KeyLength,
            VocabSize = md.VocabSize,
            TokenizerModel = md.TokenizerModel,
            TokenizerPre = md.TokenizerPre,
            HasChatTemplate = md.ChatTemplate is not null,
            EstimateContext = estimateContext,
            KvCacheBytes = kv,
        };
    }
}

/// <summary>One tensor type's part of a file.</summary>
/// <param name="Type">ggml type name.</param>
/// <param name="Tensors">Number of tensors of this type.</param>
/// <param name="Bytes">Bytes of tensor data of this type.</param>
/// <param name="Share">Fraction of all tensor bytes (0..1).</param>
public sealed record GgufTypeShare(string Type, int Tensors, long Bytes, double Share);

/// <summary>llama.cpp's <c>general.file_type</c> ids (<c>llama_ftype</c>) and their names.</summary>
public static class GgufFileTypes
{
    private static readonly Dictionary<long, string> Names = new()
    {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0", [9] = "Q5_1",
        [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L", [14] = "Q4_K_S", [15] = "Q4_K_M",
        [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K", [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S",
        [22] = "IQ3_XS", [23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M",
        [28] = "IQ2_S", [29] = "IQ2_M", [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16", [36] = "TQ1_0",
        [37] = "TQ2_0", [38] = "MXFP4_MOE",
    };

    /// <summary>The name of a file type id, or <c>unknown (N)</c>.</summary>
    public static string Name(long id) => Names.TryGetValue(id, out var n) ? n : $"unknown ({id})";

    /// <summary>Looks up a file type id by name, case-insensitively (<c>q4_k_m</c> → 15).</summary>
    public static bool TryParse(string name, out long id)
    {
        foreach (var (k, v) in Names)
        {
            if (string.Equals(v, name, StringComparison.OrdinalIgnoreCase))
            {
                id = k;
                return true;
            }
        }
        id = -1;
        return false;
    }
}
