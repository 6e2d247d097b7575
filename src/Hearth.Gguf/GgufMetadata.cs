using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Hearth.Gguf;

/// <summary>
/// A GGUF file's metadata in file order, with lookups by key and typed accessors for the
/// well-known keys. A well-known key stored with the wrong type is a <see cref="GgufFormatException"/>
/// naming the key and its offset.
/// </summary>
public sealed class GgufMetadata : IReadOnlyList<GgufKeyValue>
{
    private readonly List<GgufKeyValue> _entries;
    private readonly Dictionary<string, GgufKeyValue> _byKey;
    private readonly string? _path;

    internal GgufMetadata(List<GgufKeyValue> entries, string? path)
    {
        _entries = entries;
        _path = path;
        _byKey = new Dictionary<string, GgufKeyValue>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries)
            _byKey[e.Key] = e;
    }

    /// <inheritdoc />
    public int Count => _entries.Count;

    /// <inheritdoc />
    public GgufKeyValue this[int index] => _entries[index];

    /// <summary>Whether <paramref name="key"/> is present.</summary>
    public bool ContainsKey(string key) => _byKey.ContainsKey(key);

    /// <summary>Looks up a value by key.</summary>
    public bool TryGetValue(string key, [NotNullWhen(true)] out GgufValue? value)
    {
        if (_byKey.TryGetValue(key, out var e))
        {
            value = e.Value;
            return true;
        }
        value = null;
        return false;
    }

    /// <summary>A string value, or null when absent.</summary>
    public string? GetString(string key) => Get(key, GgufValueType.String, v => v.AsString());

    /// <summary>An integer value of any width, or null when absent.</summary>
    public long? GetInteger(string key) => Get<long?>(key, null, v => v.AsInt64());

    /// <summary>A numeric value as float, or null when absent.</summary>
    public float? GetSingle(string key) => Get<float?>(key, null, v => v.AsSingle());

    /// <summary>A boolean value, or null when absent.</summary>
    public bool? GetBool(string key) => Get<bool?>(key, GgufValueType.Bool, v => v.AsBool());

    /// <summary>An array value, or null when absent.</summary>
    public GgufArray? GetArray(string key) => Get(key, GgufValueType.Array, v => v.AsArray());

    // ---- general.* ----

    /// <summary><c>general.architecture</c> (llama, qwen2, qwen3...).</summary>
    public string? Architecture => GetString("general.architecture");

    /// <summary><c>general.name</c>.</summary>
    public string? Name => GetString("general.name");

    /// <summary><c>general.type</c> (<c>model</c>, <c>adapter</c>...).</summary>
    public string? Type => GetString("general.type");

    /// <summary><c>general.file_type</c>: llama.cpp's ftype id.</summary>
    public long? FileType => GetInteger("general.file_type");

    /// <summary><c>general.quantization_version</c>.</summary>
    public long? QuantizationVersion => GetInteger("general.quantization_version");

    // ---- {arch}.* hyper-parameters ----

    /// <summary><c>{arch}.context_length</c>: the training context.</summary>
    public long? ContextLength => GetArchInteger("context_length");

    /// <summary><c>{arch}.block_count</c>: the number of layers.</summary>
    public long? BlockCount => GetArchInteger("block_count");

    /// <summary><c>{arch}.embedding_length</c>: n_embd.</summary>
    public long? EmbeddingLength => GetArchInteger("embedding_length");

    /// <summary><c>{arch}.feed_forward_length</c>: n_ff (largest value when given per layer).</summary>
    public long? FeedForwardLength => GetArchIntegerOrMax("feed_forward_length");

    /// <summary><c>{arch}.attention.head_count</c> (largest value when given per layer).</summary>
    public long? HeadCount => GetArchIntegerOrMax("attention.head_count");

    /// <summary><c>{arch}.attention.head_count_kv</c> (largest value when given per layer); defaults to <see cref="HeadCount"/> when absent.</summary>
    public long? HeadCountKv => GetArchIntegerOrMax("attention.head_count_kv") ?? HeadCount;

    /// <summary><c>{arch}.attention.key_length</c>: head dimension for keys; defaults to n_embd / n_head.</summary>
    public long? KeyLength => GetArchInteger("attention.key_length") ?? DefaultHeadDim();

    /// <summary><c>{arch}.attention.value_length</c>: head dimension for values; defaults to n_embd / n_head.</summary>
    public long? ValueLength => GetArchInteger("attention.value_length") ?? DefaultHeadDim();

    /// <summary><c>{arch}.attention.layer_norm_rms_epsilon</c>.</summary>
    public float? RmsNormEpsilon => GetArchSingle("attention.layer_norm_rms_epsilon");

    /// <summary><c>{arch}.rope.freq_base</c>.</summary>
    public float? RopeFreqBase => GetArchSingle("rope.freq_base");

    /// <summary><c>{arch}.rope.dimension_count</c>.</summary>
    public long? RopeDimensionCount => GetArchInteger("rope.dimension_count");

    /// <summary><c>{arch}.vocab_size</c> when present, otherwise the length of <c>tokenizer.ggml.tokens</c>.</summary>
    public long? VocabSize => GetArchInteger("vocab_size") ?? Tokens?.Count;

    // ---- tokenizer.* ----

    /// <summary><c>tokenizer.ggml.model</c>: <c>llama</c> (SentencePiece), <c>gpt2</c> (BPE), <c>bert</c> (WordPiece)...</summary>
    public string? TokenizerModel => GetString("tokenizer.ggml.model");

    /// <summary><c>tokenizer.ggml.pre</c>: the BPE pre-tokenizer name.</summary>
    public string? TokenizerPre => GetString("tokenizer.ggml.pre");

    /// <summary><c>tokenizer.ggml.tokens</c>: token texts.</summary>
    public GgufArray? Tokens => GetArray("tokenizer.ggml.tokens");

    /// <summary><c>tokenizer.ggml.scores</c>: SentencePiece scores.</summary>
    public GgufArray? Scores => GetArray("tokenizer.ggml.scores");

    /// <summary><c>tokenizer.ggml.token_type</c>: per-token type (normal, unknown, control, user-defined, unused, byte).</summary>
    public GgufArray? TokenTypes => GetArray("tokenizer.ggml.token_type");

    /// <summary><c>tokenizer.ggml.merges</c>: BPE merges, <c>"a b"</c> per entry.</summary>
    public GgufArray? Merges => GetArray("tokenizer.ggml.merges");

    /// <summary><c>tokenizer.ggml.bos_token_id</c>; null when absent or the sentinel -1.</summary>
    public int? BosTokenId => GetTokenId("tokenizer.ggml.bos_token_id");

    /// <summary><c>tokenizer.ggml.eos_token_id</c>; null when absent or the sentinel -1.</summary>
    public int? EosTokenId => GetTokenId("tokenizer.ggml.eos_token_id");

    /// <summary><c>tokenizer.ggml.eot_token_id</c>; null when absent or the sentinel -1.</summary>
    public int? EotTokenId => GetTokenId("tokenizer.ggml.eot_token_id");

    /// <summary><c>tokenizer.ggml.unknown_token_id</c>; null when absent or the sentinel -1.</summary>
    public int? UnknownTokenId => GetTokenId("tokenizer.ggml.unknown_token_id");

    /// <summary><c>tokenizer.ggml.padding_token_id</c>; null when absent or the sentinel -1.</summary>
    public int? PaddingTokenId => GetTokenId("tokenizer.ggml.padding_token_id");

    /// <summary><c>tokenizer.ggml.add_bos_token</c>.</summary>
    public bool? AddBosToken => GetBool("tokenizer.ggml.add_bos_token");

    /// <summary><c>tokenizer.ggml.add_eos_token</c>.</summary>
    public bool? AddEosToken => GetBool("tokenizer.ggml.add_eos_token");

    /// <summary><c>tokenizer.chat_template</c>: the Jinja chat template.</summary>
    public string? ChatTemplate => GetString("tokenizer.chat_template");

    /// <summary>An integer under <c>{arch}.</c>; null when absent or when the architecture is unknown.</summary>
    public long? GetArchInteger(string suffix) => Architecture is { } arch ? GetInteger(arch + "." + suffix) : null;

    /// <summary>A number under <c>{arch}.</c>; null when absent or when the architecture is unknown.</summary>
    public float? GetArchSingle(string suffix) => Architecture is { } arch ? GetSingle(arch + "." + suffix) : null;

    /// <inheritdoc />
    public IEnumerator<GgufKeyValue> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private long? DefaultHeadDim() => EmbeddingLength is { } e && HeadCount is > 0 and { } h ? e / h : null;

    private long? GetArchIntegerOrMax(string suffix)
    {
        if (Architecture is not { } arch || !_byKey.TryGetValue(arch + "." + suffix, out var e))
            return null;
        if (e.Value.Type != GgufValueType.Array)
            return GetInteger(e.Key);
        var array = e.Value.AsArray();
        long? max = null;
        try
        {
            for (var i = 0; i < array.Count; i++)
                max = Math.Max(max ?? long.MinValue, array.GetInt64(i));
        }
        catch (InvalidOperationException ex)
        {
            throw new GgufFormatException($"key '{e.Key}': {ex.Message}", e.Offset, _path);
        }
        return max;
    }

    private int? GetTokenId(string key)
    {
        var v = GetInteger(key);
        return v is null or -1 or uint.MaxValue or < 0 or > int.MaxValue ? null : (int)v.Value;
    }

    private T? Get<T>(string key, GgufValueType? required, Func<GgufValue, T> read)
    {
        if (!_byKey.TryGetValue(key, out var e))
            return default;
        if (required is { } type && e.Value.Type != type)
            throw new GgufFormatException($"key '{key}' has type {e.Value.Type}, expected {type}", e.Offset, _path);
        try
        {
            return read(e.Value);
        }
        catch (InvalidOperationException ex)
        {
            throw new GgufFormatException($"key '{key}': {ex.Message}", e.Offset, _path);
        }
    }
}
