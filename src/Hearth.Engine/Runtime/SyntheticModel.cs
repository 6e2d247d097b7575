using Hearth.Engine.Kernels;
using Hearth.Gguf;

namespace Hearth.Engine.Runtime;

/// <summary>A llama-architecture shape: what a synthetic model is made of.</summary>
internal sealed record ModelShape(string Name, int EmbeddingLength, int LayerCount, int FeedForwardLength, int HeadCount, int HeadCountKv, int VocabSize)
{
    /// <summary>Named shapes (llama-1b is the 1.1B shape of BENCHMARKS.md: TinyLlama's).</summary>
    public static IReadOnlyList<ModelShape> Known { get; } =
    [
        new("tiny", 256, 2, 768, 8, 4, 1024),
        new("llama-1b", 2048, 22, 5632, 32, 4, 32000),
        new("llama-3b", 3200, 26, 8640, 32, 32, 32000),
        new("llama-8b", 4096, 32, 14336, 32, 8, 128256),
    ];

    /// <summary>The shape named <paramref name="name"/>.</summary>
    public static ModelShape Get(string name) =>
        Known.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown model shape '{name}' (known: {string.Join(", ", Known.Select(s => s.Name))}).", nameof(name));
}

/// <summary>
/// Writes a real GGUF llama model with random weights of a given shape and quantization mix, for tests
/// and benchmarks (speed does not depend on the values). Weights are N(0, σ)-like uniform values with
/// ggml-init-like scales; to keep generation fast each tensor's rows are drawn from a pool of
/// 64 distinct quantized random rows.
/// </summary>
internal static class SyntheticModel
{
    /// <summary>Quantization mixes: <c>f32</c>, <c>f16</c>, <c>q8_0</c>, <c>q4_k_m</c> (llama-quantize's recipe, simplified), <c>q5_0</c>, <c>q6_k</c>.</summary>
    public static IReadOnlyList<string> Mixes { get; } = ["f32", "f16", "q8_0", "q4_k_m", "q5_0", "q6_k"];

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public static void Write(string path, ModelShape shape, string mix, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var m = mix.ToLowerInvariant();
        if (!Mixes.Contains(m))
            throw new ArgumentException($"Unknown quantization mix '{mix}' (known: {string.Join(", ", Mixes)}).", nameof(mix));
        var w = new GgufWriter();
        var headDim = shape.EmbeddingLength / shape.HeadCount;
        w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
        w.SetMetadata("general.name", GgufValue.FromString($"synthetic-{shape.Name}-{m}"));
        w.SetMetadata("general.description", GgufValue.FromString($"Random weights (seed {seed}) for benchmarks; meaningless output."));
        w.SetMetadata("llama.context_length", GgufValue.FromUInt32(4096));
        w.SetMetadata("llama.embedding_length", GgufValue.FromUInt32((uint)shape.EmbeddingLength));
        w.SetMetadata("llama.block_count", GgufValue.FromUInt32((uint)shape.LayerCount));
        w.SetMetadata("llama.feed_forward_length", GgufValue.FromUInt32((uint)shape.FeedForwardLength));
        w.SetMetadata("llama.attention.head_count", GgufValue.FromUInt32((uint)shape.HeadCount));
        w.SetMetadata("llama.attention.head_count_kv", GgufValue.FromUInt32((uint)shape.HeadCountKv));
        w.SetMetadata("llama.attention.layer_norm_rms_epsilon", GgufValue.FromSingle(1e-5f));
        w.SetMetadata("llama.rope.freq_base", GgufValue.FromSingle(10000f));
        w.SetMetadata("llama.rope.dimension_count", GgufValue.FromUInt32((uint)headDim));
        w.SetMetadata("llama.vocab_size", GgufValue.FromUInt32((uint)shape.VocabSize));
        WriteVocabulary(w, shape.VocabSize);

        var e = shape.EmbeddingLength;
        var kv = shape.HeadCountKv * headDim;
        var n = shape.LayerCount;
        var rng = new Random(seed);
        Matrix(w, "token_embd.weight", TypeFor(m, "token_embd", 0, n), e, shape.VocabSize, 0.4f, rng);
        Vector(w, "output_norm.weight", e, rng);
        Matrix(w, "output.weight", TypeFor(m, "output", 0, n), e, shape.VocabSize, 1.5f / MathF.Sqrt(e), rng);
        for (var i = 0; i < n; i++)
        {
            var p = $"blk.{i}.";
            Vector(w, p + "attn_norm.weight", e, rng);
            Matrix(w, p + "attn_q.weight", TypeFor(m, "attn_q", i, n), e, e, 1.5f / MathF.Sqrt(e), rng);
            Matrix(w, p + "attn_k.weight", TypeFor(m, "attn_k", i, n), e, kv, 1.5f / MathF.Sqrt(e), rng);
            Matrix(w, p + "attn_v.weight", TypeFor(m, "attn_v", i, n), e, kv, 1.5f / MathF.Sqrt(e), rng);
            Matrix(w, p + "attn_output.weight", TypeFor(m, "attn_output", i, n), e, e, 4f / MathF.Sqrt(e), rng);
            Vector(w, p + "ffn_norm.weight", e, rng);
            Matrix(w, p + "ffn_gate.weight", TypeFor(m, "ffn_gate", i, n), e, shape.FeedForwardLength, 1.5f / MathF.Sqrt(e), rng);
            Matrix(w, p + "ffn_up.weight", TypeFor(m, "ffn_up", i, n), e, shape.FeedForwardLength, 1.5f / MathF.Sqrt(e), rng);
            Matrix(w, p + "ffn_down.weight", TypeFor(m, "ffn_down", i, n), shape.FeedForwardLength, e, 4f / MathF.Sqrt(shape.FeedForwardLength), rng);
        }
        w.WriteTo(path);
    }

    /// <summary>The type a tensor gets in a mix. q4_k_m follows llama-quantize: Q6_K output, Q6_K attn_v / ffn_down in the
    /// first and last eighth of the layers and every third one between, Q4_K elsewhere.</summary>
    public static GgmlType TypeFor(string mix, string tensor, int layer, int layers) => mix switch
    {
        "f32" => GgmlType.F32,
        "f16" => GgmlType.F16,
        "q8_0" => GgmlType.Q8_0,
        "q5_0" => GgmlType.Q5_0,
        "q6_k" => GgmlType.Q6_K,
        "q4_k_m" => tensor switch
        {
            "output" => GgmlType.Q6_K,
            "attn_v" or "ffn_down" when layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2 => GgmlType.Q6_K,
            _ => GgmlType.Q4_K,
        },
        _ => throw new ArgumentException($"Unknown quantization mix '{mix}'.", nameof(mix)),
    };

    /// <summary>A placeholder SentencePiece vocabulary (&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, then <c>t3</c>, <c>t4</c>, …) so that other
    /// engines (llama.cpp's llama-bench) load the very same file for a same-run comparison.</summary>
    private static void WriteVocabulary(GgufWriter w, int size)
    {
        var tokens = new string[size];
        var types = new int[size];
        for (var i = 0; i < size; i++)
        {
            tokens[i] = i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => "t" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
        }
        w.SetMetadata("tokenizer.ggml.model", GgufValue.FromString("llama"));
        w.SetMetadata("tokenizer.ggml.tokens", GgufValue.FromArray(GgufArray.Create(tokens)));
        w.SetMetadata("tokenizer.ggml.scores", GgufValue.FromArray(GgufArray.Create<float>(GgufValueType.Float32, new float[size])));
        w.SetMetadata("tokenizer.ggml.token_type", GgufValue.FromArray(GgufArray.Create<int>(GgufValueType.Int32, types)));
        w.SetMetadata("tokenizer.ggml.bos_token_id", GgufValue.FromUInt32(1));
        w.SetMetadata("tokenizer.ggml.eos_token_id", GgufValue.FromUInt32(2));
        w.SetMetadata("tokenizer.ggml.unknown_token_id", GgufValue.FromUInt32(0));
    }

    private static void Vector(GgufWriter w, string name, int length, Random rng)
    {
        var data = new byte[length * 4];
        for (var i = 0; i < length; i++)
            BitConverter.TryWriteBytes(data.AsSpan(i * 4), 1f + (float)(rng.NextDouble() - 0.5) * 0.2f);
        w.AddTensor(name, GgmlType.F32, [length], data);
    }

    private static void Matrix(GgufWriter w, string name, GgmlType type, int cols, int rows, float scale, Random rng)
    {
        const int Pool = 64;
        var rowBytes = (int)GgmlTypeTraits.Get(type).RowBytes(cols);
        var pool = new byte[Pool * rowBytes];
        var x = new float[cols];
        for (var r = 0; r < Pool; r++)
        {
            for (var i = 0; i < cols; i++)
                x[i] = (float)(rng.NextDouble() * 2 - 1) * scale * 1.7f;
            WeightQuantizer.Quantize(type, x, pool.AsSpan(r * rowBytes, rowBytes));
        }
        var salt = rng.Next(Pool);
        w.AddTensor(name, type, [cols, rows], s =>
        {
            for (var r = 0; r < rows; r++)
                s.Write(pool, ((r * 37 + salt) % Pool) * rowBytes, rowBytes);
        });
    }
}
