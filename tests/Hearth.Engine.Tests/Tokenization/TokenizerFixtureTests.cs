using System.Text;
using System.Text.Json;
using Hearth.Engine.Tokenization;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Tokenization;

/// <summary>llama.cpp's own tokenizer vectors (test-tokenizer-0 .inp/.out) and the fixture JSON tokenization sections.</summary>
public sealed class TokenizerFixtureTests
{
    private static readonly Dictionary<string, Tokenizer> _cache = [];

    internal static Tokenizer Load(params string[] path)
    {
        var key = string.Join('/', path);
        lock (_cache)
        {
            if (!_cache.TryGetValue(key, out var t))
            {
                using var file = GgufFile.Open(Fixtures.File(path));
                t = Tokenizer.FromGguf(file);
                _cache[key] = t;
            }
            return t;
        }
    }

    /// <summary>(vocab test pair, GGUF holding the tokenizer) as the fixtures README maps them.</summary>
    public static TheoryData<string, string> VocabPairs() => new()
    {
        { "ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-llama-spm.gguf" },
        { "ggml-vocab-phi-3.gguf", "vocab/ggml-vocab-phi-3.gguf" },
        { "ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-gpt-2.gguf" },
        { "ggml-vocab-mpt.gguf", "vocab/ggml-vocab-mpt.gguf" },
        { "ggml-vocab-starcoder.gguf", "vocab/ggml-vocab-starcoder.gguf" },
        { "ggml-vocab-refact.gguf", "vocab/ggml-vocab-refact.gguf" },
        { "ggml-vocab-falcon.gguf", "vocab/ggml-vocab-falcon.gguf" },
        { "ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-deepseek-llm.gguf" },
        { "ggml-vocab-deepseek-coder.gguf", "vocab/ggml-vocab-deepseek-coder.gguf" },
        { "ggml-vocab-bert-bge.gguf", "vocab/ggml-vocab-bert-bge.gguf" },
        { "ggml-vocab-llama-bpe.gguf", "llama-bpe/llama-bpe-F32_embQ4_0_outQ4_0.gguf" },
        { "ggml-vocab-qwen2.gguf", "qwen2/qwen2-F32_embQ4_0.gguf" },
        { "ggml-vocab-qwen2.gguf", "qwen3/qwen3-F32_embQ4_0.gguf" },
    };

    internal static List<string> ReadInputs(string vocabName)
    {
        var all = File.ReadAllText(Fixtures.File("vocab", vocabName + ".inp"), Encoding.UTF8);
        const string Sep = "\n__ggml_vocab_test__\n";
        var result = new List<string>();
        var pos = 0;
        while (pos < all.Length)
        {
            var next = all.IndexOf(Sep, pos, StringComparison.Ordinal);
            if (next < 0)
            {
                result.Add(all[pos..]);
                break;
            }
            result.Add(all[pos..next]);
            pos = next + Sep.Length;
        }
        return result;
    }

    [Theory]
    [MemberData(nameof(VocabPairs))]
    public void LlamaCppVocabTestVectors(string vocabName, string gguf)
    {
        var tokenizer = Load(gguf.Split('/'));
        var inputs = ReadInputs(vocabName);
        var expected = File.ReadAllLines(Fixtures.File("vocab", vocabName + ".out"));
        Assert.Equal(inputs.Count, expected.Length);
        Assert.True(inputs.Count > 30);

        var failures = new List<string>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var want = expected[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            var got = tokenizer.Encode(inputs[i], addSpecial: false, parseSpecial: false);
            if (!want.SequenceEqual(got))
                failures.Add($"#{i} {JsonSerializer.Serialize(inputs[i])}: want [{string.Join(' ', want)}] got [{string.Join(' ', got)}]");
        }
        Assert.True(failures.Count == 0, $"{failures.Count}/{inputs.Count} differ:\n" + string.Join('\n', failures));
    }

    [Theory]
    [MemberData(nameof(VocabPairs))]
    public void RoundTripWhereLlamaCppRoundTrips(string vocabName, string gguf)
    {
        // llama.cpp's test-tokenizer-0 checks decode(encode(x)) == x except where the tokenizer normalises:
        // SPM adds a leading space (removed again on decode) and clean-up of spaces changes " ," etc.
        var tokenizer = Load(gguf.Split('/'));
        var checkedCount = 0;
        foreach (var text in ReadInputs(vocabName))
        {
            var ids = tokenizer.Encode(text, addSpecial: false, parseSpecial: false);
            var decoded = tokenizer.Decode(ids, removeSpecial: false, unparseSpecial: false);
            if (tokenizer.Vocabulary.Kind == VocabularyKind.Wpm)
            {
                // WordPiece normalises (lower case, accents, spacing): llama.cpp does not round-trip it either.
                // What must hold: the decoded text tokenizes to the same ids ([UNK] decodes to nothing).
                var unk = tokenizer.Vocabulary.Unk;
                Assert.Equal(ids.Where(id => id != unk), tokenizer.Encode(decoded, addSpecial: false, parseSpecial: false));
            }
            else if (tokenizer.Vocabulary.CleanSpaces && decoded != text)
            {
                // Only the clean-up may differ: re-applying it to the input must give the decoded text.
                var cleaned = Encoding.UTF8.GetString(Tokenizer.CleanSpaces(Encoding.UTF8.GetBytes(text)));
                Assert.Equal(cleaned, decoded);
            }
            else
            {
                Assert.Equal(text, decoded);
            }
            checkedCount++;
        }
        Assert.True(checkedCount > 30);
    }

    public static TheoryData<string> JsonFiles() => new()
    {
        "llama-spm/llama-spm-F32.json",
        "models/stories260K.json",
        "qwen2/qwen2-F32_embQ4_0.json",
        "qwen3/qwen3-F32_embQ4_0.json",
        "llama-bpe/llama-bpe-F32_embQ4_0_outQ4_0.json",
        "vocab/ggml-vocab-llama-spm.tokenize.json",
        "vocab/ggml-vocab-phi-3.tokenize.json",
        "vocab/ggml-vocab-gpt-2.tokenize.json",
        "vocab/ggml-vocab-mpt.tokenize.json",
        "vocab/ggml-vocab-starcoder.tokenize.json",
        "vocab/ggml-vocab-refact.tokenize.json",
        "vocab/ggml-vocab-falcon.tokenize.json",
        "vocab/ggml-vocab-deepseek-llm.tokenize.json",
        "vocab/ggml-vocab-deepseek-coder.tokenize.json",
        "vocab/ggml-vocab-bert-bge.tokenize.json",
    };

    [Theory]
    [MemberData(nameof(JsonFiles))]
    public void FixtureJsonTokenization(string jsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.File(jsonPath.Split('/'))));
        var root = doc.RootElement;
        var modelFile = root.GetProperty("model_file").GetString()!;
        var dir = Path.GetDirectoryName(jsonPath)!;
        var tokenizer = Load(dir, Path.GetFileName(modelFile));

        var model = root.GetProperty("model");
        Assert.Equal(model.GetProperty("n_vocab").GetInt32(), tokenizer.VocabSize);
        Assert.Equal(model.GetProperty("bos").GetInt32(), tokenizer.Bos);
        Assert.Equal(model.GetProperty("eos").GetInt32(), tokenizer.Eos);
        Assert.Equal(model.GetProperty("eot").GetInt32(), tokenizer.Eot);
        Assert.Equal(model.GetProperty("add_bos").GetBoolean(), tokenizer.AddBos);
        Assert.Equal(model.GetProperty("add_eos").GetBoolean(), tokenizer.AddEos);

        var failures = new List<string>();
        var entries = 0;
        foreach (var entry in root.GetProperty("tokenization").EnumerateArray())
        {
            entries++;
            var id = entry.GetProperty("id").GetString();
            var text = entry.GetProperty("text").GetString()!;
            foreach (var addSpecial in new[] { false, true })
            {
                foreach (var parseSpecial in new[] { false, true })
                {
                    var key = $"add_special={(addSpecial ? 1 : 0)},parse_special={(parseSpecial ? 1 : 0)}";
                    var want = entry.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
                    var got = tokenizer.Encode(text, addSpecial, parseSpecial);
                    if (!want.SequenceEqual(got))
                        failures.Add($"{id} {key}: want [{string.Join(' ', want)}] got [{string.Join(' ', got)}]");
                }
            }

            var full = entry.GetProperty("add_special=1,parse_special=1").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var pieces = entry.GetProperty("pieces_hex(add_special=1,parse_special=1; special rendered)").EnumerateArray().Select(e => e.GetString()).ToArray();
            Assert.Equal(full.Length, pieces.Length);
            for (var i = 0; i < full.Length; i++)
            {
                var hex = Convert.ToHexStringLower(tokenizer.TokenToPiece(full[i], special: true));
                if (hex != pieces[i]) failures.Add($"{id} piece {full[i]}: want {pieces[i]} got {hex}");
            }

            var plain = entry.GetProperty("add_special=1,parse_special=0").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var detok = entry.GetProperty("detokenize");
            var d1 = Convert.ToHexStringLower(tokenizer.DecodeToUtf8(full, removeSpecial: false, unparseSpecial: true));
            var d2 = Convert.ToHexStringLower(tokenizer.DecodeToUtf8(plain, removeSpecial: true, unparseSpecial: false));
            if (d1 != detok.GetProperty("of_parse_special=1,remove_special=0,unparse_special=1_hex").GetString())
                failures.Add($"{id} detokenize(remove_special=0, unparse_special=1): got {d1}");
            if (d2 != detok.GetProperty("of_parse_special=0,remove_special=1,unparse_special=0_hex").GetString())
                failures.Add($"{id} detokenize(remove_special=1, unparse_special=0): got {d2}");
            if (detok.GetProperty("of_parse_special=0,remove_special=1,unparse_special=0").GetString() is { } s)
                Assert.Equal(s, tokenizer.Decode(plain, removeSpecial: true, unparseSpecial: false));
        }
        Assert.True(entries >= 19);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n" + string.Join('\n', failures));
    }
}
