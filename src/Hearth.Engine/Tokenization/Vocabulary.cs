using System.Globalization;
using System.Text;
using Hearth.Gguf;

namespace Hearth.Engine.Tokenization;

/// <summary>
/// The vocabulary a GGUF file carries under <c>tokenizer.ggml.*</c>, with the defaults and by-name
/// fix-ups llama.cpp applies when it loads one (special ids, end-of-generation set, token attributes,
/// per-family flags). Immutable once built; shared by every encode/decode call.
/// </summary>
internal sealed class Vocabulary
{
    private const string KeyModel = "tokenizer.ggml.model";
    private const string KeyTokens = "tokenizer.ggml.tokens";

    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private Vocabulary(GgufMetadata metadata)
    {
        ModelName = metadata.GetString(KeyModel)
            ?? throw new InvalidDataException($"GGUF metadata has no '{KeyModel}': the file carries no tokenizer.");
        PreName = metadata.GetString("tokenizer.ggml.pre") ?? "";

        // Family defaults (llama.cpp llama_vocab::impl::load).
        switch (ModelName)
        {
            case "llama":
                Kind = VocabularyKind.Spm;
                Bos = 1; Eos = 2; Unk = 0;
                AddSpacePrefix = true; AddBos = true;
                break;
            case "gpt2":
                Kind = VocabularyKind.Bpe;
                Bos = 11; Eos = 11;
                CleanSpaces = true;
                break;
            case "bert":
                Kind = VocabularyKind.Wpm;
                Bos = 101; Unk = 100; Sep = 102; Pad = 0; Mask = 103;
                CleanSpaces = true; AddBos = true; AddSep = true;
                break;
            default:
                throw new NotSupportedException(
                    $"Tokenizer model '{ModelName}' ({KeyModel}) is not supported; supported: llama (SentencePiece), gpt2 (BPE), bert (WordPiece).");
        }

        if (Kind == VocabularyKind.Bpe)
            Pre = PreTokenizer.Resolve(PreName, this);

        if (metadata.GetBool("tokenizer.ggml.add_space_prefix") is { } asp) AddSpacePrefix = asp;
        LowerCase = metadata.GetBool("tokenizer.ggml.normalizer.lowercase") ?? true;

        var tokens = metadata.GetArray(KeyTokens)
            ?? throw new InvalidDataException($"GGUF metadata has no '{KeyTokens}'.");
        if (tokens.ElementType != GgufValueType.String)
            throw new InvalidDataException($"'{KeyTokens}' must be an array of strings, not {tokens.ElementType}.");
        var n = tokens.Count;
        Texts = new string[n];
        Scores = new float[n];
        Attributes = new TokenAttributes[n];
        _tokenToId = new Dictionary<string, int>(n, StringComparer.Ordinal);
        _lookup = _tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();

        var scores = metadata.GetArray("tokenizer.ggml.scores");
        if (scores is not null)
        {
            if (scores.Count < n)
                throw new InvalidDataException($"'tokenizer.ggml.scores' has {scores.Count} entries for {n} tokens.");
            if (scores.ElementType == GgufValueType.Float32) scores.AsSpan<float>()[..n].CopyTo(Scores);
            else if (scores.ElementType == GgufValueType.Int32)
            {
                var s = scores.AsSpan<int>();
                for (var i = 0; i < n; i++) Scores[i] = s[i];
            }
            else throw new InvalidDataException($"'tokenizer.ggml.scores' must be float32 or int32, not {scores.ElementType}.");
        }

        var types = metadata.GetArray("tokenizer.ggml.token_type");
        ReadOnlySpan<int> typeSpan = default;
        if (types is not null)
        {
            if (types.ElementType != GgufValueType.Int32)
                throw new InvalidDataException($"'tokenizer.ggml.token_type' must be int32, not {types.ElementType}.");
            if (types.Count < n)
                throw new InvalidDataException($"'tokenizer.ggml.token_type' has {types.Count} entries for {n} tokens.");
            typeSpan = types.AsSpan<int>();
        }

        for (var i = 0; i < n; i++)
        {
            var text = tokens.GetString(i);
            if (text.Length == 0) text = "[EMPTY_" + i.ToString(CultureInfo.InvariantCulture) + "]";
            if (!_tokenToId.TryAdd(text, i))
                throw new InvalidDataException($"Duplicate token in '{KeyTokens}': '{text}' has ids {_tokenToId[text]} and {i}.");
            Texts[i] = text;
            MaxTokenLength = Math.Max(MaxTokenLength, Encoding.UTF8.GetByteCount(text));
            Attributes[i] = typeSpan.IsEmpty ? TokenAttributes.Normal : typeSpan[i] switch
            {
                1 => TokenAttributes.Normal,
                2 => TokenAttributes.Unknown,
                3 => TokenAttributes.Control,
                4 => TokenAttributes.UserDefined,
                5 => TokenAttributes.Unused,
                6 => TokenAttributes.Byte,
                _ => TokenAttributes.Undefined,
            };
        }

        if (Kind == VocabularyKind.Bpe)
            Merges = new BpeMerges(metadata, this);

        ReadSpecialIds(metadata, n);
        if (AddBos && Bos < 0) throw new InvalidDataException("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set.");
        if (AddEos && Eos < 0) throw new InvalidDataException("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set.");

        DetectSpecialTokensByText();
        SpecialTokens = BuildSpecialCache();
        ApplyModelFixups(metadata);

        if (Kind == VocabularyKind.Spm)
        {
            ByteTokens = new int[256];
            for (var b = 0; b < 256; b++)
            {
                var hex = "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";
                ByteTokens[b] = TryGetId(hex, out var id) ? id
                    : TryGetId(((char)b).ToString(), out id) ? id : -1;
            }
        }
        else if (Kind == VocabularyKind.Bpe)
        {
            ByteTokens = new int[256];
            for (var b = 0; b < 256; b++)
                ByteTokens[b] = TryGetId(ByteLevel.ByteToChar((byte)b).ToString(), out var id) ? id : -1;
        }
        else
        {
            ByteTokens = [];
        }

        Pieces = new byte[n][];
        for (var i = 0; i < n; i++) Pieces[i] = BuildPiece(i);

        if (Kind == VocabularyKind.Spm) SpmWordsIndependent = !Texts.Any(HasInnerSpace);
    }

    /// <summary>Whether a token has U+2581 right after another character than U+2581 (it would span two SPM words).</summary>
    private static bool HasInnerSpace(string text)
    {
        for (var i = text.IndexOf('\u2581', 1); i > 0; i = text.IndexOf('\u2581', i + 1))
            if (text[i - 1] != '\u2581') return true;
        return false;
    }

    /// <summary>Value of <c>tokenizer.ggml.model</c>.</summary>
    public string ModelName { get; }

    /// <summary>Value of <c>tokenizer.ggml.pre</c> ("" when absent).</summary>
    public string PreName { get; }

    public VocabularyKind Kind { get; }

    /// <summary>The BPE pre-tokenizer (null for SPM/WPM).</summary>
    public PreTokenizer? Pre { get; }

    public BpeMerges? Merges { get; }

    public string[] Texts { get; }

    public float[] Scores { get; }

    public TokenAttributes[] Attributes { get; }

    /// <summary>Token bytes as <c>token_to_piece(special: true)</c> renders them.</summary>
    public byte[][] Pieces { get; }

    /// <summary>Byte-fallback token per byte value (-1 where the vocabulary has none).</summary>
    public int[] ByteTokens { get; }

    /// <summary>Control, user-defined and unknown tokens, longest text first (the special-token partition order).</summary>
    public int[] SpecialTokens { get; }

    public HashSet<int> EndOfGeneration { get; } = [];

    public int Count => Texts.Length;

    public int MaxTokenLength { get; }

    public int Bos { get; private set; } = -1;

    public int Eos { get; private set; } = -1;

    public int Eot { get; private set; } = -1;

    public int Eom { get; private set; } = -1;

    public int Unk { get; private set; } = -1;

    public int Sep { get; private set; } = -1;

    public int Pad { get; private set; } = -1;

    public int Mask { get; private set; } = -1;

    public int FimPre { get; private set; } = -1;

    public int FimSuf { get; private set; } = -1;

    public int FimMid { get; private set; } = -1;

    public int FimPad { get; private set; } = -1;

    public int FimRep { get; private set; } = -1;

    public int FimSep { get; private set; } = -1;

    public bool AddBos { get; private set; }

    public bool AddEos { get; private set; }

    public bool AddSep { get; private set; }

    public bool AddSpacePrefix { get; private set; }

    /// <summary>Whether detokenization applies llama.cpp's clean-up of spaces before punctuation.</summary>
    public bool CleanSpaces { get; internal set; }

    /// <summary>Whether a pre-token found whole in the vocabulary skips the merges (llama3 family).</summary>
    public bool IgnoreMerges { get; internal set; }

    /// <summary>
    /// SPM: no token spans a character followed by U+2581, so no merge ever crosses the start of a word's leading space
    /// run and each such word can be merged on its own (and cached) with the same result as merging the whole text.
    /// False when some token would cross it; tests also turn it off to compare both ways.
    /// </summary>
    public bool SpmWordsIndependent { get; internal set; }

    /// <summary>Recently encoded words (BPE pre-tokens, independent SPM words) and their ids.</summary>
    public WordCache Words { get; } = new();

    /// <summary>WPM: lower-case and strip accents.</summary>
    public bool LowerCase { get; }

    public static Vocabulary FromMetadata(GgufMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new Vocabulary(metadata);
    }

    public bool TryGetId(ReadOnlySpan<char> text, out int id) => _lookup.TryGetValue(text, out id);

    public bool Is(int id, TokenAttributes attribute) => (Attributes[id] & attribute) != 0;

    /// <summary>Called by <see cref="PreTokenizer.Resolve"/>: the llama3 family adds BOS by default.</summary>
    internal void SetAddBosDefault(bool value) => AddBos = value;

    private void ReadSpecialIds(GgufMetadata metadata, int n)
    {
        int Read(string key, int current)
        {
            if (current >= n) current = -1;
            var v = metadata.GetInteger("tokenizer.ggml." + key);
            if (v is null) return current;
            return v.Value >= 0 && v.Value < n ? (int)v.Value : current;
        }

        Bos = Read("bos_token_id", Bos);
        Eos = Read("eos_token_id", Eos);
        Eot = Read("eot_token_id", Eot);
        Eom = Read("eom_token_id", Eom);
        Unk = Read("unknown_token_id", Unk);
        Sep = Read("seperator_token_id", Sep);
        Pad = Read("padding_token_id", Pad);
        Mask = Read("mask_token_id", Mask);
        FimPre = Read("fim_pre_token_id", Read("prefix_token_id", FimPre));
        FimSuf = Read("fim_suf_token_id", Read("suffix_token_id", FimSuf));
        FimMid = Read("fim_mid_token_id", Read("middle_token_id", FimMid));
        FimPad = Read("fim_pad_token_id", FimPad);
        FimRep = Read("fim_rep_token_id", FimRep);
        FimSep = Read("fim_sep_token_id", FimSep);

        if (metadata.GetBool("tokenizer.ggml.add_bos_token") is { } ab) AddBos = ab;
        if (metadata.GetBool("tokenizer.ggml.add_eos_token") is { } ae) AddEos = ae;
        if (metadata.GetBool("tokenizer.ggml.add_sep_token") is { } asep) AddSep = asep;
    }

    // Texts llama.cpp recognises by name (it has no metadata for them). The candidate order decides
    // which one wins when a vocabulary has several (Llama 3: <|eot_id|> over <|end_of_text|>).
    private static readonly string[] EotTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"];

    private static readonly string[] FimPreTexts = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"];
    private static readonly string[] FimSufTexts = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"];
    private static readonly string[] FimMidTexts = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"];
    private static readonly string[] FimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
    private static readonly string[] FimRepTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
    private static readonly string[] FimSepTexts = ["<|file_sep|>"];

    private static readonly string[] EogTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ];

    private void DetectSpecialTokensByText()
    {
        int Find(string[] candidates, int current)
        {
            if (current >= 0) return current;
            foreach (var text in candidates)
            {
                if (_tokenToId.TryGetValue(text, out var id))
                {
                    Attributes[id] |= TokenAttributes.Control;
                    return id;
                }
            }
            return -1;
        }

        Eot = Find(EotTexts, Eot);
        Eom = Find(["<|eom_id|>"], Eom);
        FimPre = Find(FimPreTexts, FimPre);
        FimSuf = Find(FimSufTexts, FimSuf);
        FimMid = Find(FimMidTexts, FimMid);
        FimPad = Find(FimPadTexts, FimPad);
        FimRep = Find(FimRepTexts, FimRep);
        FimSep = Find(FimSepTexts, FimSep);

        // Control tokens named "...unused..." are unused.
        for (var i = 0; i < Count; i++)
        {
            if ((Attributes[i] & TokenAttributes.Control) != 0 && Texts[i].Contains("unused", StringComparison.Ordinal))
                Attributes[i] |= TokenAttributes.Unused;
        }

        foreach (var id in (ReadOnlySpan<int>)[FimPad, FimRep, FimSep])
            if (id >= 0) EndOfGeneration.Add(id);
        foreach (var text in EogTexts)
        {
            if (_tokenToId.TryGetValue(text, out var id))
            {
                EndOfGeneration.Add(id);
                Attributes[id] |= TokenAttributes.Control;
            }
        }

        // gpt-oss: these are always rendered.
        foreach (var text in (ReadOnlySpan<string>)["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"])
            if (_tokenToId.TryGetValue(text, out var id)) Attributes[id] = TokenAttributes.UserDefined;

        foreach (var id in (ReadOnlySpan<int>)[Eos, Eot, Eom])
            if (id >= 0) EndOfGeneration.Add(id);

        // o200k_harmony / solar-open: <|end|> is not end-of-generation when the others are present.
        bool Has(string t) => _tokenToId.TryGetValue(t, out var i) && EndOfGeneration.Contains(i);
        if (_tokenToId.TryGetValue("<|end|>", out var endId) && EndOfGeneration.Contains(endId)
            && ((Has("<|return|>") && (Has("<|call|>") || Has("<|calls|>"))) || ((Has("<|call|>") || Has("<|calls|>")) && Has("<|flush|>"))))
        {
            EndOfGeneration.Remove(endId);
            Attributes[endId] = TokenAttributes.UserDefined;
        }

        // gemma4 / paddleocr: </s> is not end-of-generation next to <|tool_response>.
        if (Has("<|tool_response>") && _tokenToId.TryGetValue("</s>", out var sId) && EndOfGeneration.Contains(sId))
        {
            EndOfGeneration.Remove(sId);
            Attributes[sId] = TokenAttributes.Normal;
        }
    }

    private int[] BuildSpecialCache()
    {
        var list = new List<int>();
        for (var i = 0; i < Count; i++)
        {
            if ((Attributes[i] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0)
                list.Add(i);
        }
        // Longest first; ties by id so the order is deterministic.
        list.Sort((a, b) =>
        {
            var c = Encoding.UTF8.GetByteCount(Texts[b]).CompareTo(Encoding.UTF8.GetByteCount(Texts[a]));
            return c != 0 ? c : a.CompareTo(b);
        });
        return [.. list];
    }

    private void ApplyModelFixups(GgufMetadata metadata)
    {
        var name = (metadata.GetString("general.name") ?? "").ToLowerInvariant();
        var arch = metadata.GetString("general.architecture") ?? "";
        static bool Any(string s, params string[] parts) => parts.Any(p => s.Contains(p, StringComparison.Ordinal));

        if (Any(PreName, "jina-v2-de", "jina-v2-es", "jina-v2-code") || Any(arch, "nomic-bert-moe", "jina-bert-v3"))
        {
            if (_tokenToId.TryGetValue("<mask>", out var m)) Attributes[m] |= TokenAttributes.LStrip;
        }
        else if (Any(name, "phi-3", "phi3"))
        {
            foreach (var id in SpecialTokens) Attributes[id] |= TokenAttributes.RStrip;
            if (_tokenToId.TryGetValue("</s>", out var s)) Attributes[s] |= TokenAttributes.RStrip;
            foreach (var t in (ReadOnlySpan<string>)["<unk>", "<s>", "<|endoftext|>"])
                if (_tokenToId.TryGetValue(t, out var id)) Attributes[id] &= ~TokenAttributes.RStrip;
        }
        else if (Any(name, "modern-bert"))
        {
            if (_tokenToId.TryGetValue("[MASK]", out var m)) Attributes[m] |= TokenAttributes.LStrip;
        }
    }

    private byte[] BuildPiece(int id)
    {
        var attr = Attributes[id];
        var text = Texts[id];
        if ((attr & (TokenAttributes.Unknown | TokenAttributes.Control | TokenAttributes.UserDefined)) != 0)
            return Encoding.UTF8.GetBytes(text);
        if ((attr & TokenAttributes.Normal) != 0)
        {
            return Kind switch
            {
                VocabularyKind.Bpe => ByteLevel.Decode(text),
                _ => Encoding.UTF8.GetBytes(text.Replace('\u2581', ' ')),
            };
        }
        if ((attr & TokenAttributes.Byte) != 0)
        {
            // "<0xNN>"
            if (text.Length >= 6 && byte.TryParse(text.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
                return [b];
            throw new InvalidDataException($"Byte token {id} has text '{text}', expected '<0xNN>'.");
        }
        return [];
    }
}
