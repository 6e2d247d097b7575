using System.Text;
using Hearth.Engine.Tokenization;
using Hearth.Gguf;
using Hearth.Tests.Shared;

namespace Hearth.Engine.Tests.Tokenization;

public sealed class TokenizerBehaviourTests
{
    private static Tokenizer Spm => TokenizerFixtureTests.Load("vocab", "ggml-vocab-llama-spm.gguf");

    private static Tokenizer Qwen => TokenizerFixtureTests.Load("qwen2", "qwen2-F32_embQ4_0.gguf");

    private static Tokenizer Llama3 => TokenizerFixtureTests.Load("llama-bpe", "llama-bpe-F32_embQ4_0_outQ4_0.gguf");

    public static TheoryData<string> Vocabs() => new()
    {
        "vocab/ggml-vocab-llama-spm.gguf",
        "vocab/ggml-vocab-gpt-2.gguf",
        "vocab/ggml-vocab-deepseek-llm.gguf",
        "qwen2/qwen2-F32_embQ4_0.gguf",
        "llama-bpe/llama-bpe-F32_embQ4_0_outQ4_0.gguf",
    };

    [Theory]
    [MemberData(nameof(Vocabs))]
    public void StreamingDecoderHoldsBackSplitCharactersAndMatchesThePieces(string gguf)
    {
        var tokenizer = TokenizerFixtureTests.Load(gguf.Split('/'));
        var texts = TokenizerFixtureTests.ReadInputs("ggml-vocab-gpt-2.gguf").Append("🦙🚀👍🏽 𝐀𝐁 你好，世界 ∑ x² ≤ ∞ \u0001é\u0301");
        foreach (var text in texts)
        {
            var ids = tokenizer.Encode(text, addSpecial: false);
            var decoder = tokenizer.CreateDecoder();
            var streamed = new StringBuilder();
            var all = new List<byte>();
            foreach (var id in ids)
            {
                var chunk = decoder.Append(id);
                Assert.DoesNotContain('\uFFFD', chunk);
                streamed.Append(chunk);
                all.AddRange(tokenizer.TokenToPiece(id, special: false).ToArray());
            }
            streamed.Append(decoder.Flush());
            Assert.Equal(Encoding.UTF8.GetString([.. all]), streamed.ToString());
        }
    }

    [Fact]
    public void ByteFallbackTokensOfOneCharacterComeOutTogether()
    {
        // 🦙 is not in the Llama 2 vocabulary: four <0xNN> byte tokens.
        var ids = Spm.Encode("🦙", addSpecial: false);
        var bytes = ids.Skip(1).ToArray(); // first token is the leading "▁"
        Assert.Equal(4, bytes.Length);
        Assert.All(bytes, id => Assert.StartsWith("<0x", Spm.TokenText(id), StringComparison.Ordinal));
        var decoder = Spm.CreateDecoder();
        Assert.Equal(" ", decoder.Append(ids[0]));
        Assert.Equal("", decoder.Append(bytes[0]));
        Assert.Equal("", decoder.Append(bytes[1]));
        Assert.Equal("", decoder.Append(bytes[2]));
        Assert.Equal("🦙", decoder.Append(bytes[3]));
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void IncompleteSequenceAtEndOfStreamBecomesReplacementOnFlush()
    {
        var ids = Spm.Encode("🦙", addSpecial: false);
        var decoder = Spm.CreateDecoder();
        decoder.Append(ids[0]);
        decoder.Append(ids[1]);
        decoder.Append(ids[2]);
        Assert.Equal("\uFFFD", decoder.Flush());
    }

    [Theory]
    [InlineData(new byte[] { 0xF0, 0x9F, 0xA6 }, 0)]
    [InlineData(new byte[] { 0x41, 0xE4, 0xBD }, 1)]
    [InlineData(new byte[] { 0x41, 0xC3 }, 1)]
    [InlineData(new byte[] { 0x41, 0xC3, 0xA9 }, 3)]
    [InlineData(new byte[] { 0x41, 0xFF }, 2)] // invalid byte: never completes, not held
    [InlineData(new byte[] { 0x41, 0xED, 0xA0 }, 3)] // surrogate prefix: invalid, not held
    [InlineData(new byte[] { 0x41, 0xE0, 0x80 }, 3)] // overlong prefix: invalid, not held
    public void CompleteLengthKeepsOnlyValidIncompleteTails(byte[] bytes, int expected) =>
        Assert.Equal(expected, TokenDecoder.CompleteLength(bytes));

    [Fact]
    public void SpecialTokensAreParsedOnlyWhenAsked()
    {
        var text = "<|im_start|>user\nHi<|im_end|>";
        var parsed = Qwen.Encode(text, addSpecial: false, parseSpecial: true);
        var plain = Qwen.Encode(text, addSpecial: false, parseSpecial: false);
        var imStart = parsed[0];
        Assert.Equal("<|im_start|>", Qwen.TokenText(imStart));
        Assert.True(Qwen.IsControl(imStart));
        Assert.DoesNotContain(imStart, plain);
        Assert.True(plain.Length > parsed.Length);
        Assert.Equal(text, Qwen.Decode(plain));
        Assert.Equal(text, Qwen.Decode(parsed, unparseSpecial: true));
        Assert.Equal("user\nHi", Qwen.Decode(parsed, unparseSpecial: false));
    }

    [Fact]
    public void EndOfGenerationTokens()
    {
        Assert.True(Llama3.IsEndOfGeneration(Llama3.Eot));
        Assert.True(Llama3.IsEndOfGeneration(Llama3.Eos));
        Assert.Equal("<|eot_id|>", Llama3.TokenText(Llama3.Eot));
        Assert.False(Llama3.IsEndOfGeneration(Llama3.Bos));
        Assert.True(Qwen.IsEndOfGeneration(Qwen.Encode("<|im_end|>", false, true)[0]));
        Assert.False(Qwen.IsEndOfGeneration(Qwen.Encode("Hello", false, false)[0]));
        Assert.True(Spm.IsEndOfGeneration(2));
    }

    [Fact]
    public void AddSpecialFollowsTheVocabulary()
    {
        Assert.Equal(Spm.Bos, Spm.Encode("Hi", addSpecial: true)[0]);
        Assert.Equal(Llama3.Bos, Llama3.Encode("Hi", addSpecial: true)[0]);
        Assert.False(Qwen.AddBos);
        Assert.Equal(Qwen.Encode("Hi", addSpecial: false), Qwen.Encode("Hi", addSpecial: true));
        Assert.Equal([Spm.Bos], Spm.Encode("", addSpecial: true));
        Assert.Empty(Spm.Encode("", addSpecial: false));
    }

    [Fact]
    public void InvalidTokenIdsAreRejectedWithTheArgument()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Spm.TokenToPiece(Spm.VocabSize));
        Assert.Equal("token", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Spm.TokenText(-1));
    }

    [Fact]
    public void UnknownPreTokenizerIsAnErrorNamingIt()
    {
        var ex = WithVocab("gpt2", "no-such-pre", f => Assert.Throws<NotSupportedException>(() => Tokenizer.FromGguf(f)));
        Assert.Contains("'no-such-pre'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.ggml.pre", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownTokenizerModelIsAnErrorNamingIt()
    {
        var ex = WithVocab("t5x", null, f => Assert.Throws<NotSupportedException>(() => Tokenizer.FromGguf(f)));
        Assert.Contains("'t5x'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WordPieceLowercasesSplitsPunctuationAndAddsClsSep()
    {
        using var file = GgufFile.Open(Fixtures.File("vocab", "ggml-vocab-bert-bge.gguf"));
        var tokenizer = Tokenizer.FromGguf(file);
        int Id(string text) => tokenizer.Vocabulary.TryGetId(text, out var id) ? id : throw new InvalidOperationException(text);
        Assert.Equal([Id("[CLS]"), Id("\u2581hello"), Id("\u2581,"), Id("\u2581world"), Id("\u2581!"), Id("[SEP]")],
            tokenizer.Encode("Hello,   WORLD!", addSpecial: true));
        // Accents drop with the decomposition; a word nothing matches becomes [UNK].
        Assert.Equal(tokenizer.Encode("cafe", addSpecial: false), tokenizer.Encode("Café", addSpecial: false));
        Assert.Equal([Id("[UNK]")], tokenizer.Encode("\u2603\u2603", addSpecial: false));
    }

    [Fact]
    public void MissingTokensKeyIsAnErrorNamingIt()
    {
        var path = Path.GetTempFileName();
        try
        {
            var w = new GgufWriter();
            w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
            w.SetMetadata("tokenizer.ggml.model", GgufValue.FromString("llama"));
            w.WriteTo(path);
            using var file = GgufFile.Open(path);
            var ex = Assert.Throws<InvalidDataException>(() => Tokenizer.FromGguf(file));
            Assert.Contains("tokenizer.ggml.tokens", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HundredKilobyteTextsTokenizeAndRoundTrip()
    {
        var text = LargeText(100 * 1024);
        foreach (var tokenizer in new[] { Spm, Llama3, Qwen })
        {
            var ids = tokenizer.Encode(text, addSpecial: false);
            Assert.InRange(ids.Length, text.Length / 10, text.Length);
            Assert.Equal(text, tokenizer.Vocabulary.CleanSpaces ? text : tokenizer.Decode(ids));
            // Encoding in two halves at a space gives the same ids as the parts (no cross-talk, no state).
            Assert.Equal(ids, tokenizer.Encode(text, addSpecial: false));
        }
    }

    [Fact]
    public void NoPathologicalSlowdownOnOneHugeWord()
    {
        // A 50 KB run without spaces is a single pre-token / SPM symbol chain: the merge queue must keep it near-linear.
        var word = string.Concat(Enumerable.Repeat("abcdefghij", 5000));
        Assert.NotEmpty(Spm.Encode(word, addSpecial: false));
        Assert.NotEmpty(Qwen.Encode(word, addSpecial: false));
        Assert.Equal(word, Qwen.Decode(Qwen.Encode(word, addSpecial: false)));
        Assert.Equal(word, Spm.Decode(Spm.Encode(word, addSpecial: false)));
    }

    /// <summary>Every SPM and BPE fixture vocabulary llama.cpp's vectors cover.</summary>
    public static TheoryData<string> MergingVocabs() => new()
    {
        "vocab/ggml-vocab-llama-spm.gguf",
        "vocab/ggml-vocab-phi-3.gguf",
        "vocab/ggml-vocab-gpt-2.gguf",
        "vocab/ggml-vocab-mpt.gguf",
        "vocab/ggml-vocab-starcoder.gguf",
        "vocab/ggml-vocab-falcon.gguf",
        "vocab/ggml-vocab-deepseek-llm.gguf",
        "vocab/ggml-vocab-deepseek-coder.gguf",
        "qwen2/qwen2-F32_embQ4_0.gguf",
        "llama-bpe/llama-bpe-F32_embQ4_0_outQ4_0.gguf",
    };

    [Theory]
    [MemberData(nameof(MergingVocabs))]
    public void WordCacheAndSpmWordSplitGiveTheIdsOfOneMergeLoopOverTheWholeText(string gguf)
    {
        // The reference: no word cache, and SPM text merged as one symbol chain (llama.cpp's way).
        var reference = Fresh(gguf);
        reference.Vocabulary.Words.Enabled = false;
        reference.Vocabulary.SpmWordsIndependent = false;
        var fast = Fresh(gguf);
        if (fast.Vocabulary.Kind == VocabularyKind.Spm) Assert.True(fast.Vocabulary.SpmWordsIndependent, gguf);

        var texts = TokenizerFixtureTests.ReadInputs(Path.GetFileName(gguf).StartsWith("ggml-vocab", StringComparison.Ordinal)
            ? Path.GetFileName(gguf) : gguf.StartsWith("qwen2", StringComparison.Ordinal) ? "ggml-vocab-qwen2.gguf" : "ggml-vocab-llama-bpe.gguf");
        texts.Add(LargeText(20 * 1024));
        texts.Add("  two  spaces   three    four\t\ttabs\n\n\nnewlines ▁ literal ▁▁ marks 🦙🦙 ");
        foreach (var text in texts)
        {
            var expected = reference.Encode(text, addSpecial: true);
            Assert.Equal(expected, fast.Encode(text, addSpecial: true)); // cold: fills the cache
            Assert.Equal(expected, fast.Encode(text, addSpecial: true)); // warm: served from it
        }
        Assert.Equal(0, reference.Vocabulary.Words.Count);
        Assert.InRange(fast.Vocabulary.Words.Count, 1, WordCache.Capacity);
    }

    [Theory]
    [InlineData("vocab/ggml-vocab-llama-spm.gguf")]
    [InlineData("qwen2/qwen2-F32_embQ4_0.gguf")]
    public async Task ConcurrentEncodesThroughOneCacheThatStartsOverGiveTheReferenceIds(string gguf)
    {
        // Four texts of 12,000 distinct words each: together more than the cache holds, so it starts over while
        // other threads read and fill it.
        static string Letters(int i) => i == 0 ? "" : Letters(i / 26) + (char)('a' + i % 26);
        var texts = Enumerable.Range(0, 4)
            .Select(t => string.Join(' ', Enumerable.Range(0, 12_000).Select(i => "qz" + Letters(t * 12_000 + i + 1))))
            .ToArray();
        var reference = Fresh(gguf);
        reference.Vocabulary.Words.Enabled = false;
        reference.Vocabulary.SpmWordsIndependent = false;
        var expected = texts.Select(t => reference.Encode(t)).ToArray();

        var shared = Fresh(gguf);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(k => Task.Run(() => shared.Encode(texts[k % 4]))));
        for (var k = 0; k < 8; k++) Assert.Equal(expected[k % 4], results[k]);
        // Bounded: writers that pass the full-check together may each add one word before the next one starts over.
        Assert.InRange(shared.Vocabulary.Words.Count, 1, WordCache.Capacity + 8);
    }

    [Fact]
    public void WordCacheStartsOverWhenFullAndSkipsLongWords()
    {
        var cache = new WordCache();
        for (var i = 0; i < WordCache.Capacity; i++) cache.Add("w" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), [i]);
        Assert.Equal(WordCache.Capacity, cache.Count);
        cache.Add("one more", [7, 8]);
        Assert.Equal(1, cache.Count);
        var ids = new List<int>();
        Assert.True(cache.TryAppend("one more", ids));
        Assert.Equal([7, 8], ids);
        Assert.False(cache.TryAppend("w5", ids));
        cache.Add(new string('x', WordCache.MaxWordLength + 1), [1]);
        Assert.False(cache.TryAppend(new string('x', WordCache.MaxWordLength + 1), ids));
        Assert.Equal([7, 8], ids);
    }

    [Fact]
    public void SpmVocabularyWithATokenAcrossAWordStartIsMergedWhole()
    {
        // "a▁" and "a▁b" span the start of the word "▁b": words are not independent, and the merge across them happens.
        var path = Path.GetTempFileName();
        try
        {
            string[] tokens = ["<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "\u2581b", "a\u2581", "a\u2581b"];
            float[] scores = [0, 0, 0, -1, -1, -1, 1, 1, 5, 6];
            var w = new GgufWriter();
            w.SetMetadata("tokenizer.ggml.model", GgufValue.FromString("llama"));
            w.SetMetadata("tokenizer.ggml.tokens", GgufValue.FromArray(GgufArray.Create(tokens)));
            w.SetMetadata("tokenizer.ggml.scores", GgufValue.FromArray(GgufArray.Create<float>(GgufValueType.Float32, scores)));
            w.WriteTo(path);
            using var file = GgufFile.Open(path);
            var tokenizer = Tokenizer.FromGguf(file);
            Assert.False(tokenizer.Vocabulary.SpmWordsIndependent);
            Assert.Equal([3, 9], tokenizer.Encode("a b", addSpecial: false));
            // Split per word anyway, the ids would differ: the flag is what keeps the result right.
            tokenizer.Vocabulary.SpmWordsIndependent = true;
            Assert.Equal([6, 7], tokenizer.Encode("a b", addSpecial: false));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Tokenizer Fresh(string gguf)
    {
        using var file = GgufFile.Open(Fixtures.File(gguf.Split('/')));
        return Tokenizer.FromGguf(file);
    }

    internal static string LargeText(int length)
    {
        var sb = new StringBuilder(length + 200);
        var prompts = File.ReadAllText(Fixtures.File("models", "stories260K-eval.txt"));
        while (sb.Length < length) sb.Append(prompts).Append("\nHéllo wörld! 你好，世界 🦙 x² ≤ ∞ 3.14159 1,000,000\n");
        return sb.ToString(0, length);
    }

    private static T WithVocab<T>(string model, string? pre, Func<GgufFile, T> test)
    {
        var path = Path.GetTempFileName();
        try
        {
            var w = new GgufWriter();
            w.SetMetadata("tokenizer.ggml.model", GgufValue.FromString(model));
            if (pre is not null) w.SetMetadata("tokenizer.ggml.pre", GgufValue.FromString(pre));
            w.SetMetadata("tokenizer.ggml.tokens", GgufValue.FromArray(GgufArray.Create(["a", "b", "ab"])));
            w.SetMetadata("tokenizer.ggml.merges", GgufValue.FromArray(GgufArray.Create(["a b"])));
            w.WriteTo(path);
            using var file = GgufFile.Open(path);
            return test(file);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
